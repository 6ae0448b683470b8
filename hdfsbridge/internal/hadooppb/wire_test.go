package hadooppb_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

const clientProtocol = "org.apache.hadoop.hdfs.protocol.ClientProtocol"

// h decodes space-separated hex bytes.
func h(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestGoldenEncoding pins the exact bytes of messages whose encoding follows
// from the protocol: field numbers, wire types (zigzag sint32, uint32,
// sfixed64/sfixed32) and proto2 presence (an empty string that is set is
// still sent).
func TestGoldenEncoding(t *testing.T) {
	clientID := h(t, "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f")
	tests := []struct {
		name string
		msg  proto.Message
		want []byte
	}{{
		// The write-setup reply Java's DataXceiver sends; clients read at least
		// 5 bytes, so firstBadLink must be present even when empty.
		name: "BlockOpResponseProto/write-setup",
		msg: &pb.BlockOpResponseProto{
			Status:       pb.Status_SUCCESS.Enum(),
			FirstBadLink: proto.String(""),
		},
		want: h(t, "08 00 12 00"),
	}, {
		name: "BlockOpResponseProto/read-setup",
		msg: &pb.BlockOpResponseProto{
			Status: pb.Status_SUCCESS.Enum(),
			ReadOpChecksumInfo: &pb.ReadOpChecksumInfoProto{
				Checksum: &pb.ChecksumProto{
					Type:             pb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(),
					BytesPerChecksum: proto.Uint32(512),
				},
				ChunkOffset: proto.Uint64(0),
			},
		},
		// status | field 4 (len 9) { field 1 (len 5) {type 2, bpc 512}, chunkOffset 0 }
		want: h(t, "08 00 22 09 0a 05 08 02 10 80 04 10 00"),
	}, {
		name: "ClientReadStatusProto/CHECKSUM_OK",
		msg:  &pb.ClientReadStatusProto{Status: pb.Status_CHECKSUM_OK.Enum()},
		want: h(t, "08 06"),
	}, {
		// The connection-context header: callId -3 is zigzag 5 (field 3, varint),
		// retryCount -1 is zigzag 1.
		name: "RpcRequestHeaderProto/connection-context",
		msg: &pb.RpcRequestHeaderProto{
			RpcKind:    pb.RpcKindProto_RPC_PROTOCOL_BUFFER.Enum(),
			RpcOp:      pb.RpcRequestHeaderProto_RPC_FINAL_PACKET.Enum(),
			CallId:     proto.Int32(-3),
			ClientId:   clientID,
			RetryCount: proto.Int32(-1),
		},
		want: cat(h(t, "08 02 10 00 18 05 22 10"), clientID, h(t, "28 01")),
	}, {
		name: "RpcRequestHeaderProto/sasl",
		msg: &pb.RpcRequestHeaderProto{
			CallId:   proto.Int32(-33),
			ClientId: []byte{},
		},
		want: h(t, "18 41 22 00"),
	}, {
		// The reply to call -33: the uint32 pattern of -33.
		name: "RpcResponseHeaderProto/sasl-callid",
		msg: &pb.RpcResponseHeaderProto{
			CallId: proto.Uint32(0xFFFFFFDF),
			Status: pb.RpcResponseHeaderProto_SUCCESS.Enum(),
		},
		want: h(t, "08 df ff ff ff 0f 10 00"),
	}, {
		name: "RpcResponseHeaderProto/success",
		msg: &pb.RpcResponseHeaderProto{
			CallId:              proto.Uint32(7),
			Status:              pb.RpcResponseHeaderProto_SUCCESS.Enum(),
			ServerIpcVersionNum: proto.Uint32(9),
		},
		want: h(t, "08 07 10 00 18 09"),
	}, {
		// A SIMPLE-only server's answer to NEGOTIATE.
		name: "RpcSaslProto/SUCCESS",
		msg:  &pb.RpcSaslProto{State: pb.RpcSaslProto_SUCCESS.Enum()},
		want: h(t, "10 00"),
	}, {
		name: "RequestHeaderProto/getFileInfo",
		msg: &pb.RequestHeaderProto{
			MethodName:                 proto.String("getFileInfo"),
			DeclaringClassProtocolName: proto.String(clientProtocol),
			ClientProtocolVersion:      proto.Uint64(1),
		},
		want: cat(h(t, "0a 0b"), []byte("getFileInfo"), h(t, "12 2e"), []byte(clientProtocol), h(t, "18 01")),
	}, {
		// Field 1 does not exist: userInfo is field 2, protocol field 3.
		name: "IpcConnectionContextProto",
		msg: &pb.IpcConnectionContextProto{
			UserInfo: &pb.UserInformationProto{EffectiveUser: proto.String("alice")},
			Protocol: proto.String(clientProtocol),
		},
		want: cat(h(t, "12 07 0a 05"), []byte("alice"), h(t, "1a 2e"), []byte(clientProtocol)),
	}, {
		// offsetInBlock sfixed64 (tag 0x09), seqno sfixed64 (0x11),
		// lastPacketInBlock bool (0x18), dataLen sfixed32 (0x25), little-endian.
		name: "PacketHeaderProto",
		msg: &pb.PacketHeaderProto{
			OffsetInBlock:     proto.Int64(512),
			Seqno:             proto.Int64(1),
			LastPacketInBlock: proto.Bool(false),
			DataLen:           proto.Int32(3),
		},
		want: h(t, "09 00 02 00 00 00 00 00 00  11 01 00 00 00 00 00 00 00  18 00  25 03 00 00 00"),
	}, {
		// seqno is sint64 (zigzag 5 = 10); reply is an unpacked repeated enum.
		name: "PipelineAckProto",
		msg: &pb.PipelineAckProto{
			Seqno:                  proto.Int64(5),
			Reply:                  []pb.Status{pb.Status_SUCCESS},
			DownstreamAckTimeNanos: proto.Uint64(0),
		},
		want: h(t, "08 0a 10 00 18 00"),
	}, {
		name: "PipelineAckProto/heartbeat-flag",
		msg: &pb.PipelineAckProto{
			Seqno: proto.Int64(-1),
			Reply: []pb.Status{pb.Status_SUCCESS},
			Flag:  []uint32{0},
		},
		// flag is packed: field 4, wire type 2.
		want: h(t, "08 01 10 00 22 01 00"),
	}, {
		name: "FsServerDefaultsProto/crc32c",
		msg: &pb.FsServerDefaultsProto{
			BlockSize:        proto.Uint64(128 << 20),
			BytesPerChecksum: proto.Uint32(512),
			WritePacketSize:  proto.Uint32(64 << 10),
			Replication:      proto.Uint32(1),
			FileBufferSize:   proto.Uint32(4096),
			ChecksumType:     pb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(),
		},
		want: h(t, "08 80 80 80 40  10 80 04  18 80 80 04  20 01  28 80 20  40 02"),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := marshal(t, tc.msg)
			require.Equal(t, hex.EncodeToString(tc.want), hex.EncodeToString(got))

			back := tc.msg.ProtoReflect().New().Interface()
			require.NoError(t, proto.Unmarshal(tc.want, back))
			require.True(t, proto.Equal(tc.msg, back), "decoded %v, want %v", back, tc.msg)
		})
	}
}

// TestDelimited checks the varint-delimited framing used by every RPC frame
// and data-transfer reply.
func TestDelimited(t *testing.T) {
	var buf bytes.Buffer
	_, err := protodelim.MarshalTo(&buf, &pb.BlockOpResponseProto{
		Status:       pb.Status_SUCCESS.Enum(),
		FirstBadLink: proto.String(""),
	})
	require.NoError(t, err)
	require.Equal(t, "0408001200", hex.EncodeToString(buf.Bytes()))

	var reply pb.BlockOpResponseProto
	require.NoError(t, protodelim.UnmarshalFrom(bytes.NewReader(h(t, "04 08 00 12 00")), &reply))
	require.Equal(t, pb.Status_SUCCESS, reply.GetStatus())
	require.NotNil(t, reply.FirstBadLink, "an empty firstBadLink is present, not absent")
	require.Empty(t, reply.GetFirstBadLink())

	// A request frame body: header, method header and request, each delimited.
	buf.Reset()
	header := &pb.RpcRequestHeaderProto{
		RpcKind:    pb.RpcKindProto_RPC_PROTOCOL_BUFFER.Enum(),
		RpcOp:      pb.RpcRequestHeaderProto_RPC_FINAL_PACKET.Enum(),
		CallId:     proto.Int32(0),
		ClientId:   bytes.Repeat([]byte{0xab}, 16),
		RetryCount: proto.Int32(-1),
	}
	method := &pb.RequestHeaderProto{
		MethodName:                 proto.String("getFileInfo"),
		DeclaringClassProtocolName: proto.String(clientProtocol),
		ClientProtocolVersion:      proto.Uint64(1),
	}
	req := &pb.GetFileInfoRequestProto{Src: proto.String("/user/alice/a.txt")}
	for _, m := range []proto.Message{header, method, req} {
		_, err := protodelim.MarshalTo(&buf, m)
		require.NoError(t, err)
	}
	r := bytes.NewReader(buf.Bytes())
	gotHeader, gotMethod, gotReq := &pb.RpcRequestHeaderProto{}, &pb.RequestHeaderProto{}, &pb.GetFileInfoRequestProto{}
	for _, m := range []proto.Message{gotHeader, gotMethod, gotReq} {
		require.NoError(t, protodelim.UnmarshalFrom(r, m))
	}
	require.Zero(t, r.Len(), "trailing bytes")
	require.True(t, proto.Equal(header, gotHeader))
	require.True(t, proto.Equal(method, gotMethod))
	require.True(t, proto.Equal(req, gotReq))
}

// TestPacketHeaderFixedSize checks that the packet header's size does not
// depend on its values: every field is fixed-width.
func TestPacketHeaderFixedSize(t *testing.T) {
	for _, v := range []struct {
		off, seq int64
		last     bool
		n        int32
	}{
		{0, 0, false, 0},
		{0, -1, false, 0}, // heartbeat
		{math.MaxInt64, math.MaxInt64, true, math.MaxInt32},
		{math.MinInt64, math.MinInt64, false, math.MinInt32},
		{128 << 20, 12345, true, 65536},
	} {
		hdr := &pb.PacketHeaderProto{
			OffsetInBlock:     proto.Int64(v.off),
			Seqno:             proto.Int64(v.seq),
			LastPacketInBlock: proto.Bool(v.last),
			DataLen:           proto.Int32(v.n),
		}
		require.Len(t, marshal(t, hdr), 25, "%+v", v)
		hdr.SyncBlock = proto.Bool(v.last)
		require.Len(t, marshal(t, hdr), 27, "%+v with syncBlock", v)
	}
}

func token() *pb.TokenProto {
	return &pb.TokenProto{
		Identifier: []byte{},
		Password:   []byte{},
		Kind:       proto.String(""),
		Service:    proto.String(""),
	}
}

func datanode() *pb.DatanodeInfoProto {
	return &pb.DatanodeInfoProto{
		Id: &pb.DatanodeIDProto{
			IpAddr:       proto.String("127.0.0.1"),
			HostName:     proto.String("localhost"),
			DatanodeUuid: proto.String("2a4e9a8c-6b0d-4a31-9d1c-0d1c8c7a5e01"),
			XferPort:     proto.Uint32(9866),
			InfoPort:     proto.Uint32(9864),
			IpcPort:      proto.Uint32(9867),
		},
		Capacity:   proto.Uint64(1 << 40),
		Remaining:  proto.Uint64(1 << 39),
		Location:   proto.String("/default-rack"),
		AdminState: pb.DatanodeInfoProto_NORMAL.Enum(),
	}
}

func locatedBlock(offset uint64) *pb.LocatedBlockProto {
	return &pb.LocatedBlockProto{
		B: &pb.ExtendedBlockProto{
			PoolId:          proto.String("BP-1-127.0.0.1-1700000000000"),
			BlockId:         proto.Uint64(1<<30 + 1),
			GenerationStamp: proto.Uint64(1001),
			NumBytes:        proto.Uint64(4),
		},
		Offset:       proto.Uint64(offset),
		Locs:         []*pb.DatanodeInfoProto{datanode()},
		Corrupt:      proto.Bool(false),
		BlockToken:   token(),
		IsCached:     []bool{false},
		StorageTypes: []pb.StorageTypeProto{pb.StorageTypeProto_DISK},
		StorageIDs:   []string{"DS-1"},
	}
}

// TestRequiredFields checks proto2 required-field enforcement, which Java
// peers apply too.
func TestRequiredFields(t *testing.T) {
	full := locatedBlock(0)
	b, err := proto.Marshal(full)
	require.NoError(t, err)
	var back pb.LocatedBlockProto
	require.NoError(t, proto.Unmarshal(b, &back))
	require.True(t, proto.Equal(full, &back))

	noOffset := locatedBlock(0)
	noOffset.Offset = nil
	_, err = proto.Marshal(noOffset)
	require.ErrorContains(t, err, "LocatedBlockProto.offset")
	partial, err := proto.MarshalOptions{AllowPartial: true}.Marshal(noOffset)
	require.NoError(t, err)
	err = proto.Unmarshal(partial, &pb.LocatedBlockProto{})
	require.ErrorContains(t, err, "required field marvel.hadoop.hdfs.LocatedBlockProto.offset not set")

	// Enforcement reaches nested messages.
	noService := locatedBlock(0)
	noService.BlockToken.Service = nil
	partial, err = proto.MarshalOptions{AllowPartial: true}.Marshal(noService)
	require.NoError(t, err)
	err = proto.Unmarshal(partial, &pb.LocatedBlockProto{})
	require.ErrorContains(t, err, "TokenProto.service")

	// A bare status is a complete BlockOpResponseProto; nothing is not.
	require.NoError(t, proto.Unmarshal(h(t, "08 00"), &pb.BlockOpResponseProto{}))
	require.ErrorContains(t, proto.Unmarshal(nil, &pb.BlockOpResponseProto{}), "BlockOpResponseProto.status")
}

func fileStatus(name string, typ pb.HdfsFileStatusProto_FileType) *pb.HdfsFileStatusProto {
	st := &pb.HdfsFileStatusProto{
		FileType:         typ.Enum(),
		Path:             []byte(name),
		Length:           proto.Uint64(0),
		Permission:       &pb.FsPermissionProto{Perm: proto.Uint32(0o755)},
		Owner:            proto.String("alice"),
		Group:            proto.String("supergroup"),
		ModificationTime: proto.Uint64(1700000000123),
		AccessTime:       proto.Uint64(1700000000456),
		FileId:           proto.Uint64(16386),
		ChildrenNum:      proto.Int32(0),
		StoragePolicy:    proto.Uint32(0),
		Flags:            proto.Uint32(0),
	}
	if typ == pb.HdfsFileStatusProto_IS_FILE {
		st.Length = proto.Uint64(4)
		st.Permission.Perm = proto.Uint32(0o644)
		st.BlockReplication = proto.Uint32(1)
		st.Blocksize = proto.Uint64(128 << 20)
		st.Locations = &pb.LocatedBlocksProto{
			FileLength:          proto.Uint64(4),
			Blocks:              []*pb.LocatedBlockProto{locatedBlock(0)},
			UnderConstruction:   proto.Bool(false),
			IsLastBlockComplete: proto.Bool(true),
		}
	}
	return st
}

func TestRoundTripFileStatusAndListing(t *testing.T) {
	dir := fileStatus("", pb.HdfsFileStatusProto_IS_DIR)
	dir.ChildrenNum = proto.Int32(2)
	dir.Namespace = proto.String("ns1")
	b := marshal(t, dir)
	var gotDir pb.HdfsFileStatusProto
	require.NoError(t, proto.Unmarshal(b, &gotDir))
	require.True(t, proto.Equal(dir, &gotDir))
	require.Equal(t, "ns1", gotDir.GetNamespace())

	listing := &pb.DirectoryListingProto{
		PartialListing: []*pb.HdfsFileStatusProto{
			fileStatus("a.txt", pb.HdfsFileStatusProto_IS_FILE),
			fileStatus("sub", pb.HdfsFileStatusProto_IS_DIR),
		},
		RemainingEntries: proto.Uint32(0),
	}
	b = marshal(t, listing)
	var gotListing pb.DirectoryListingProto
	require.NoError(t, proto.Unmarshal(b, &gotListing))
	require.True(t, proto.Equal(listing, &gotListing))
	require.Equal(t, "a.txt", string(gotListing.GetPartialListing()[0].GetPath()))
	require.Equal(t, uint64(4), gotListing.GetPartialListing()[0].GetLocations().GetBlocks()[0].GetB().GetNumBytes())

	// The reply of getListing wraps it; a missing directory has no dirList.
	reply := marshal(t, &pb.GetListingResponseProto{DirList: listing})
	var gotReply pb.GetListingResponseProto
	require.NoError(t, proto.Unmarshal(reply, &gotReply))
	require.True(t, proto.Equal(listing, gotReply.GetDirList()))
	require.Empty(t, marshal(t, &pb.GetFileInfoResponseProto{}))
}

// TestDefaults pins the proto2 defaults the bridge relies on (or must
// override), read from unset fields.
func TestDefaults(t *testing.T) {
	var defaults pb.FsServerDefaultsProto
	require.Equal(t, pb.ChecksumTypeProto_CHECKSUM_CRC32, defaults.GetChecksumType(),
		"the proto default is CRC32: the bridge must set CHECKSUM_CRC32C explicitly")
	require.NoError(t, proto.Unmarshal(h(t, "08 80 80 80 40 10 80 04 18 80 80 04 20 01 28 80 20"), &defaults))
	require.Nil(t, defaults.ChecksumType)
	require.Equal(t, pb.ChecksumTypeProto_CHECKSUM_CRC32, defaults.GetChecksumType())

	tests := []struct {
		name      string
		got, want any
	}{
		{"HdfsFileStatusProto.childrenNum", (&pb.HdfsFileStatusProto{}).GetChildrenNum(), int32(-1)},
		{"HdfsFileStatusProto.fileId", (&pb.HdfsFileStatusProto{}).GetFileId(), uint64(0)},
		{"RpcRequestHeaderProto.retryCount", (&pb.RpcRequestHeaderProto{}).GetRetryCount(), int32(-1)},
		{"RpcResponseHeaderProto.retryCount", (&pb.RpcResponseHeaderProto{}).GetRetryCount(), int32(-1)},
		{"OpReadBlockProto.sendChecksums", (&pb.OpReadBlockProto{}).GetSendChecksums(), true},
		{"OpWriteBlockProto.storageType", (&pb.OpWriteBlockProto{}).GetStorageType(), pb.StorageTypeProto_DISK},
		{"FsyncRequestProto.lastBlockLength", (&pb.FsyncRequestProto{}).GetLastBlockLength(), int64(-1)},
		{"DatanodeInfoProto.adminState", (&pb.DatanodeInfoProto{}).GetAdminState(), pb.DatanodeInfoProto_NORMAL},
		{"StorageTypeQuotaInfoProto.type", (&pb.StorageTypeQuotaInfoProto{}).GetType(), pb.StorageTypeProto_DISK},
		{"ErasureCodingPolicyProto.state", (&pb.ErasureCodingPolicyProto{}).GetState(), pb.ErasureCodingPolicyState_ENABLED},
		{"BlockChecksumOptionsProto.blockChecksumType", (&pb.BlockChecksumOptionsProto{}).GetBlockChecksumType(), pb.BlockChecksumTypeProto_MD5CRC},
		{"PipelineAckProto.downstreamAckTimeNanos", (&pb.PipelineAckProto{}).GetDownstreamAckTimeNanos(), uint64(0)},
		{"SetSafeModeRequestProto.checked", (&pb.SetSafeModeRequestProto{}).GetChecked(), false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.got, tc.name)
	}
}

// TestEnumValues pins enum numbers the bridge puts on the wire.
func TestEnumValues(t *testing.T) {
	tests := []struct {
		e    protoreflect.Enum
		want protoreflect.EnumNumber
	}{
		{pb.RpcKindProto_RPC_PROTOCOL_BUFFER, 2},
		{pb.RpcRequestHeaderProto_RPC_CLOSE_CONNECTION, 2},
		{pb.RpcResponseHeaderProto_FATAL, 2},
		{pb.RpcResponseHeaderProto_ERROR_NO_SUCH_METHOD, 2},
		{pb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, 15},
		{pb.RpcSaslProto_NEGOTIATE, 1},
		{pb.RpcSaslProto_WRAP, 5},
		{pb.StorageTypeProto_NVDIMM, 6},
		{pb.ChecksumTypeProto_CHECKSUM_CRC32C, 2},
		{pb.CipherSuiteProto_SM4_CTR_NOPADDING, 3},
		{pb.HdfsFileStatusProto_IS_SYMLINK, 3},
		{pb.HdfsFileStatusProto_SNAPSHOT_ENABLED, 8},
		{pb.CreateFlagProto_APPEND, 4},
		{pb.CreateFlagProto_SHOULD_REPLICATE, 128},
		{pb.XAttrProto_RAW, 4},
		{pb.XAttrSetFlagProto_XATTR_REPLACE, 2},
		{pb.DatanodeReportTypeProto_IN_MAINTENANCE, 6},
		{pb.SafeModeActionProto_SAFEMODE_FORCE_EXIT, 4},
		{pb.OpWriteBlockProto_PIPELINE_SETUP_CREATE, 6},
		{pb.OpWriteBlockProto_TRANSFER_FINALIZED, 8},
		{pb.Status_ERROR_CHECKSUM, 2},
		{pb.Status_ERROR_BLOCK_PINNED, 13},
		{pb.BlockChecksumTypeProto_COMPOSITE_CRC, 2},
	}
	for _, tc := range tests {
		d := tc.e.Descriptor().Values().ByNumber(tc.e.Number())
		require.Equal(t, tc.want, tc.e.Number(), "%s", d.FullName())
	}
}

// ourPackages are the proto packages of this Go package.
var ourPackages = map[protoreflect.FullName]int{
	"marvel.hadoop.common": 4,
	"marvel.hadoop.hdfs":   5,
}

// TestRegistry checks that every file, message, enum and service registers
// under our own names, so that a binary can also link another copy of Hadoop's
// messages (registered as hadoop.common and hadoop.hdfs, with files such as
// "hdfs.proto").
func TestRegistry(t *testing.T) {
	for pkg, wantFiles := range ourPackages {
		require.Equal(t, wantFiles, protoregistry.GlobalFiles.NumFilesByPackage(pkg), "files in %s", pkg)
		protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
			require.True(t, strings.HasPrefix(fd.Path(), "marvel/hadoop/"), "file path %q", fd.Path())
			require.Equal(t, protoreflect.Proto2, fd.Syntax(), fd.Path())
			checkNames(t, fd.Messages(), fd.Enums())
			for i := 0; i < fd.Services().Len(); i++ {
				requireOurs(t, fd.Services().Get(i).FullName())
			}
			return true
		})
	}
	for _, upstream := range []protoreflect.FullName{"hadoop.common", "hadoop.hdfs"} {
		require.Zero(t, protoregistry.GlobalFiles.NumFilesByPackage(upstream), upstream)
	}
	for _, path := range []string{"hdfs.proto", "RpcHeader.proto", "Security.proto", "datatransfer.proto"} {
		_, err := protoregistry.GlobalFiles.FindFileByPath(path)
		require.ErrorIs(t, err, protoregistry.NotFound, path)
	}
	for _, name := range []protoreflect.FullName{
		"marvel.hadoop.common.RpcRequestHeaderProto",
		"marvel.hadoop.common.RpcResponseHeaderProto",
		"marvel.hadoop.common.RpcSaslProto",
		"marvel.hadoop.common.IpcConnectionContextProto",
		"marvel.hadoop.common.RequestHeaderProto",
		"marvel.hadoop.common.TokenProto",
		"marvel.hadoop.hdfs.HdfsFileStatusProto",
		"marvel.hadoop.hdfs.LocatedBlocksProto",
		"marvel.hadoop.hdfs.OpWriteBlockProto",
		"marvel.hadoop.hdfs.PacketHeaderProto",
		"marvel.hadoop.hdfs.PipelineAckProto",
		"marvel.hadoop.hdfs.BlockOpResponseProto",
	} {
		_, err := protoregistry.GlobalTypes.FindMessageByName(name)
		require.NoError(t, err, name)
	}
}

func checkNames(t *testing.T, msgs protoreflect.MessageDescriptors, enums protoreflect.EnumDescriptors) {
	t.Helper()
	for i := 0; i < enums.Len(); i++ {
		requireOurs(t, enums.Get(i).FullName())
	}
	for i := 0; i < msgs.Len(); i++ {
		m := msgs.Get(i)
		requireOurs(t, m.FullName())
		checkNames(t, m.Messages(), m.Enums())
	}
}

func requireOurs(t *testing.T, name protoreflect.FullName) {
	t.Helper()
	require.True(t, strings.HasPrefix(string(name), "marvel.hadoop."), "%s is not under marvel.hadoop.", name)
	_, ok := ourPackages[name.Parent()]
	if !ok {
		// Nested types: the package is further up.
		for p := name.Parent(); p != ""; p = p.Parent() {
			if _, ok = ourPackages[p]; ok {
				break
			}
		}
	}
	require.True(t, ok, "%s is in none of our packages", name)
}

// TestServices checks that every served method maps to registered Go types
// and that the calls colinmarc/hdfs v2.4.0 makes are all there.
func TestServices(t *testing.T) {
	nn := pb.File_marvel_hadoop_hdfs_client_namenode_proto.Services().ByName("ClientNamenodeProtocol")
	require.NotNil(t, nn)
	dn := pb.File_marvel_hadoop_hdfs_client_datanode_proto.Services().ByName("ClientDatanodeProtocolService")
	require.NotNil(t, dn)
	for _, sd := range []protoreflect.ServiceDescriptor{nn, dn} {
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			for _, m := range []protoreflect.MessageDescriptor{md.Input(), md.Output()} {
				mt, err := protoregistry.GlobalTypes.FindMessageByName(m.FullName())
				require.NoError(t, err, "%s: %s", md.FullName(), m.FullName())
				require.NotNil(t, mt.New().Interface())
			}
		}
	}

	colinmarc := []string{
		"addBlock", "allowSnapshot", "append", "complete", "create", "createSnapshot",
		"delete", "deleteSnapshot", "disallowSnapshot", "getBlockLocations",
		"getContentSummary", "getDataEncryptionKey", "getFileInfo", "getFsStats",
		"getListing", "getServerDefaults", "getXAttrs", "listXAttrs", "mkdirs",
		"removeXAttr", "rename2", "renewLease", "setOwner", "setPermission",
		"setTimes", "setXAttr", "truncate", "updateBlockForPipeline",
	}
	for _, name := range colinmarc {
		require.NotNil(t, nn.Methods().ByName(protoreflect.Name(name)), name)
	}
	md := nn.Methods().ByName("getFsStats")
	require.Equal(t, protoreflect.FullName("marvel.hadoop.hdfs.GetFsStatusRequestProto"), md.Input().FullName())
	require.Equal(t, protoreflect.FullName("marvel.hadoop.hdfs.GetFsStatsResponseProto"), md.Output().FullName())
	require.NotNil(t, dn.Methods().ByName("getReplicaVisibleLength"))
}
