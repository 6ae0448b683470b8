// Package transfer is the DataNode side of Hadoop's DataTransferProtocol as
// the HDFS bridge speaks it: op framing, the packet codec, the two data
// phases (streaming a block out for READ_BLOCK, receiving one for
// WRITE_BLOCK, a pipeline of one) and the MD5-of-CRC32C block checksum. It
// knows nothing of namespaces, block IDs or storage: the bridge looks the
// block up, decides, sends the op reply, and calls in here for the bytes.
//
// # Framing
//
// A request is a uint16 big-endian version (28), a uint8 op code and a
// varint-delimited Op*Proto (ReadOp, then DecodeReadBlock, DecodeWriteBlock
// or DecodeBlockChecksum). The reply is a varint-delimited
// BlockOpResponseProto (WriteDelimited with WriteOpResponse, ReadOpResponse,
// ChecksumOpResponse or ErrorOpResponse), at least 5 bytes framed because
// colinmarc/hdfs reads replies with io.ReadAtLeast(5). Java clients reuse a
// connection for several reads: loop on ReadOp until it returns io.EOF.
//
// Data moves in packets, both ways:
//
//	+--------+--------+--------------------+--------------------+----------+
//	| PLEN   | HLEN   | PacketHeaderProto  | CRC32C per chunk   | data     |
//	| uint32 | uint16 | offsetInBlock,     | 4 bytes BE each,   | DataLen  |
//	| BE     | BE     | seqno, last,       | 512-byte chunks    | bytes    |
//	|        |        | dataLen, [sync]    | aligned to block   |          |
//	+--------+--------+--------------------+--------------------+----------+
//	PLEN = 4 + checksum bytes + data bytes (the header is not counted)
//
// # READ_BLOCK
//
//	client                                  bridge
//	  | 00 1c 51 OpReadBlockProto  ------->   | ReadOp, DecodeReadBlock; check block,
//	  |                                       | generation stamp, offset <= length
//	  | <------- ReadOpResponse(offset)       | WriteDelimited (or ErrorOpResponse)
//	  | <------- packets seqno 0,1,...        | SendBlock(ctx, conn, mapped block,
//	  | <------- empty packet, last=true      |           offset, len, opts)
//	  | ClientReadStatusProto (Java) ------>  | ReadClientStatus (nil if absent)
//	  | next op, or close          ------->   | ReadOp again
//
// SendBlock starts at offset rounded down to 512, the chunkOffset that
// ReadOpResponse reports, and sends the chunks up to offset+len rounded up to
// 512, clipped to the block. Pass it only the block's visible bytes: a block
// being written must not be read past its acknowledged length. Its data
// slices go to the socket by writev without being copied, so the mapping
// must stay mapped and unchanged until SendBlock returns.
//
// # WRITE_BLOCK
//
//	client                                  bridge
//	  | 00 1c 50 OpWriteBlockProto ------->   | ReadOp, DecodeWriteBlock; check stage
//	  |                                       | (PIPELINE_SETUP_CREATE with
//	  |                                       | minBytesRcvd 0, or _APPEND with the
//	  |                                       | current length), requestedChecksum
//	  |                                       | {CRC32C, 512}; open the sink
//	  | <------- 04 08 00 12 00               | WriteDelimited(WriteOpResponse())
//	  | packets seqno s, s+1, ... -------->   | ReceiveBlock(ctx, r, conn, sink,
//	  | <------- one ack per packet           |   {StartOffset: minBytesRcvd})
//	  | empty packet, last=true   -------->   | Sync (if the sink has it), then
//	  | <------- its ack                      | the last ack; ReceiveBlock returns
//	  | close                                 | the length; finalise the block
//
// The bridge wraps ReceiveBlock in a BlockSink over its storage (WriteAt
// calls are contiguous, so an adapter over an append-only pmem.FileWriter
// need only check off against Len before it writes) and records
// the returned length as the block's numBytes. Everything a client's
// complete call depends on must be done in Sync: the client calls complete
// as soon as the last ack arrives. On an error, close the connection; the
// client abandons the block or recovers the pipeline.
//
// # BLOCK_CHECKSUM
//
// BlockChecksum(mapped block) gives the MD5 of the chunks' CRC32C and the
// CRC count for ChecksumOpResponse. FileChecksum combines the block MD5s of a
// file as clients do (for GETFILECHECKSUM over WebHDFS).
//
// # Caveats
//
//   - Only CRC32C with 512-byte chunks is spoken. A WRITE_BLOCK asking for
//     another checksum must be refused by the caller (ERROR_INVALID or
//     ERROR_UNSUPPORTED); reads always announce CRC32C, which both clients
//     accept.
//   - ReceiveBlock is a pipeline of one: it ignores targets and never
//     forwards. Pipeline recovery stages, TRANSFER_BLOCK, short-circuit and
//     the other ops are not served; ReadOp reports them as
//     UnsupportedOpError.
//   - Java numbers packets per output stream, not per block, so the first
//     seqno of a second block is not 0; ReceiveBlock takes any first seqno
//     >= 0, then requires +1.
//   - Deadlines: SendBlock and ReceiveBlock interrupt blocked I/O when ctx
//     ends only through the connection's deadline methods, so pass the
//     net.Conn (not a wrapper without them). ReadOp and ReadClientStatus
//     block until data arrives or the connection's read deadline passes.
//   - No SASL or encryption: the bridge runs with security off, as its
//     NameNode advertises (encryptDataTransfer false).
package transfer
