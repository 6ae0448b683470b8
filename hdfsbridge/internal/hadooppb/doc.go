// Package hadooppb holds the Go types of the Hadoop protobuf messages that the
// HDFS bridge speaks: the Hadoop IPC headers, SASL and connection context, the
// ClientNamenodeProtocol calls, the DataNode IPC calls and the
// DataTransferProtocol operations, packet headers and acks.
//
// The *.pb.go files are generated from the .proto files in
// hdfsbridge/internal/proto by scripts/gen-proto.sh; edit the .proto files and
// rerun the script, never the generated code. CI runs the script with --check.
//
// # Wire compatibility
//
// Field numbers, types, labels, defaults and enum values are those of Apache
// Hadoop 3.4, so the messages interoperate with Java Hadoop clients and with
// github.com/colinmarc/hdfs/v2. The proto packages are our own,
// marvel.hadoop.common and marvel.hadoop.hdfs, and the files register as
// marvel/hadoop/..., so a binary can link this package beside another copy of
// Hadoop's messages (colinmarc's registers hadoop.common and hadoop.hdfs)
// without a registry conflict. Package names never reach the wire; method
// names do, as RequestHeaderProto.methodName strings, and the services
// ClientNamenodeProtocol and ClientDatanodeProtocolService list them with their
// request and reply types:
//
//	sd := hadooppb.File_marvel_hadoop_hdfs_client_namenode_proto.Services().ByName("ClientNamenodeProtocol")
//	md := sd.Methods().ByName(protoreflect.Name(header.GetMethodName()))
//	req, _ := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
//
// # Caveats
//
//   - These are proto2 messages. proto.Marshal and proto.Unmarshal fail when a
//     required field is unset at any depth, and so do Java peers; set every
//     required field, even to an empty value (TokenProto without security).
//   - Optional scalars are pointers; use proto.String, proto.Uint64 and the
//     generated enum Enum() methods, and read them with the GetX accessors,
//     which return the proto default (not Go's zero value) when unset.
//   - FsServerDefaultsProto.checksumType defaults to CHECKSUM_CRC32; a bridge
//     that checksums with CRC32C must set it explicitly.
//   - RpcRequestHeaderProto.callId is sint32 but RpcResponseHeaderProto.callId
//     is uint32: echo the 32-bit pattern (uint32(int32(id))).
//   - Frames carry varint-delimited messages; use
//     google.golang.org/protobuf/encoding/protodelim.
//   - Only the messages the bridge needs are defined; a call outside
//     ClientNamenodeProtocol here has no request type and must be answered with
//     ERROR_NO_SUCH_METHOD.
package hadooppb

//go:generate bash ../../../scripts/gen-proto.sh
