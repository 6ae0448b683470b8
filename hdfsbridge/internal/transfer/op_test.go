package transfer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

func token() *pb.TokenProto {
	return &pb.TokenProto{Identifier: []byte{}, Password: []byte{}, Kind: proto.String(""), Service: proto.String("")}
}

func readBlockOp() *pb.OpReadBlockProto {
	return &pb.OpReadBlockProto{
		Header: &pb.ClientOperationHeaderProto{
			BaseHeader: &pb.BaseHeaderProto{
				Block: &pb.ExtendedBlockProto{
					PoolId:          proto.String("BP-1-127.0.0.1-1700000000000"),
					BlockId:         proto.Uint64(1<<30 + 1),
					GenerationStamp: proto.Uint64(1001),
					NumBytes:        proto.Uint64(4),
				},
				Token: token(),
			},
			ClientName: proto.String("go-hdfs-test"),
		},
		Offset: proto.Uint64(0),
		Len:    proto.Uint64(4),
	}
}

// opFrame is a request as colinmarc/hdfs writes it: version, op, delimited
// message.
func opFrame(t testing.TB, op Op, m proto.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.Write([]byte{0x00, Version, byte(op)})
	_, err := protodelim.MarshalTo(&buf, m)
	require.NoError(t, err)
	return buf.Bytes()
}

func TestReadOp(t *testing.T) {
	read := opFrame(t, OpReadBlock, readBlockOp())
	require.Equal(t, "001c51", hex.EncodeToString(read[:3]))

	// Two requests on one connection, then a clean EOF.
	write := opFrame(t, OpWriteBlock, &pb.OpWriteBlockProto{
		Header:                readBlockOp().Header,
		Stage:                 pb.OpWriteBlockProto_PIPELINE_SETUP_CREATE.Enum(),
		PipelineSize:          proto.Uint32(0),
		MinBytesRcvd:          proto.Uint64(0),
		MaxBytesRcvd:          proto.Uint64(0),
		LatestGenerationStamp: proto.Uint64(0),
		RequestedChecksum:     checksumProto(),
	})
	r := bufio.NewReader(bytes.NewReader(append(append([]byte{}, read...), write...)))
	op, msg, err := ReadOp(r, DefaultMaxOpSize)
	require.NoError(t, err)
	require.Equal(t, OpReadBlock, op)
	req, err := DecodeReadBlock(msg)
	require.NoError(t, err)
	require.True(t, proto.Equal(readBlockOp(), req))

	op, msg, err = ReadOp(r, DefaultMaxOpSize)
	require.NoError(t, err)
	require.Equal(t, OpWriteBlock, op)
	m, err := DecodeOp(op, msg)
	require.NoError(t, err)
	require.Equal(t, pb.OpWriteBlockProto_PIPELINE_SETUP_CREATE, m.(*pb.OpWriteBlockProto).GetStage())

	_, _, err = ReadOp(r, DefaultMaxOpSize)
	require.Same(t, io.EOF, err, "a clean end between requests is io.EOF itself")

	sum := opFrame(t, OpBlockChecksum, &pb.OpBlockChecksumProto{Header: readBlockOp().Header.BaseHeader})
	op, msg, err = ReadOp(bufio.NewReader(bytes.NewReader(sum)), DefaultMaxOpSize)
	require.NoError(t, err)
	require.Equal(t, OpBlockChecksum, op)
	_, err = DecodeBlockChecksum(msg)
	require.NoError(t, err)
}

func TestReadOpErrors(t *testing.T) {
	read := opFrame(t, OpReadBlock, readBlockOp())
	tests := []struct {
		name  string
		in    []byte
		max   int
		want  error
		check func(t *testing.T, op Op, err error)
	}{{
		name: "version 27",
		in:   append([]byte{0x00, 27}, read[2:]...),
		want: ErrVersion,
		check: func(t *testing.T, _ Op, err error) {
			var ve *VersionError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, uint16(27), ve.Got)
			require.Contains(t, err.Error(), "got 27")
		},
	}, {
		name: "HTTP on the data port",
		in:   []byte("GET / HTTP/1.1\r\n"),
		want: ErrVersion,
	}, {
		name: "unknown op 99",
		in:   []byte{0x00, 0x1c, 99, 0x02, 0x08, 0x00},
		want: ErrUnsupportedOp,
		check: func(t *testing.T, op Op, err error) {
			var ue *UnsupportedOpError
			require.ErrorAs(t, err, &ue)
			require.Equal(t, Op(99), ue.Op)
			require.Equal(t, Op(99), op)
			require.False(t, ue.Consumed)
			require.Contains(t, err.Error(), "op 99")
		},
	}, {
		name: "READ_METADATA 82 has no request to skip",
		in:   []byte{0x00, 0x1c, 82},
		want: ErrUnsupportedOp,
		check: func(t *testing.T, _ Op, err error) {
			var ue *UnsupportedOpError
			require.ErrorAs(t, err, &ue)
			require.False(t, ue.Consumed)
		},
	}, {
		name: "request over the bound",
		in:   append([]byte{0x00, 0x1c, 81, 0xff, 0xff, 0x03}, make([]byte, 10)...),
		max:  1024,
		want: ErrTooLarge,
		check: func(t *testing.T, _ Op, err error) {
			require.Contains(t, err.Error(), "65535 exceeds 1024")
		},
	}, {
		name: "length varint over 32 bits",
		in:   []byte{0x00, 0x1c, 81, 0xff, 0xff, 0xff, 0xff, 0x7f},
		want: ErrMalformed,
	}, {
		name: "empty request",
		in:   []byte{0x00, 0x1c, 81, 0x00},
		want: ErrMalformed, // at DecodeReadBlock: required fields missing
		check: func(t *testing.T, op Op, err error) {
			require.Contains(t, err.Error(), "READ_BLOCK(81)")
		},
	}, {
		name: "request that does not parse",
		in:   []byte{0x00, 0x1c, 81, 0x02, 0xff, 0xff},
		want: ErrMalformed,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = DefaultMaxOpSize
			}
			op, msg, err := ReadOp(bufio.NewReader(bytes.NewReader(tc.in)), max)
			if err == nil {
				_, err = DecodeOp(op, msg)
			}
			require.ErrorIs(t, err, tc.want)
			if tc.check != nil {
				tc.check(t, op, err)
			}
		})
	}

	// Every cut of a valid request is ErrTruncated (and io.ErrUnexpectedEOF),
	// except the empty one, which is a clean io.EOF.
	for cut := 0; cut < len(read); cut++ {
		_, _, err := ReadOp(bufio.NewReader(bytes.NewReader(read[:cut])), DefaultMaxOpSize)
		if cut == 0 {
			require.Same(t, io.EOF, err)
			continue
		}
		require.ErrorIs(t, err, ErrTruncated, "cut at %d", cut)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", cut)
	}
}

// TestReadOpSkipsKnownOps checks that an op Java dispatches but the bridge
// does not serve is read whole, so the next request is still in step.
func TestReadOpSkipsKnownOps(t *testing.T) {
	in := append([]byte{0x00, 0x1c, 87, 0x03, 0x0a, 0x01, 0x00}, opFrame(t, OpReadBlock, readBlockOp())...)
	r := bufio.NewReader(bytes.NewReader(in))
	op, msg, err := ReadOp(r, DefaultMaxOpSize)
	var ue *UnsupportedOpError
	require.ErrorAs(t, err, &ue)
	require.True(t, ue.Consumed)
	require.Equal(t, Op(87), op)
	require.Nil(t, msg)
	require.Contains(t, err.Error(), "REQUEST_SHORT_CIRCUIT_FDS(87)")

	var buf bytes.Buffer
	require.NoError(t, WriteDelimited(&buf, ErrorOpResponse(pb.Status_ERROR_UNSUPPORTED, "not served")))

	op, _, err = ReadOp(r, DefaultMaxOpSize)
	require.NoError(t, err)
	require.Equal(t, OpReadBlock, op)
}

// TestGoldenReplies pins the reply frames byte for byte.
func TestGoldenReplies(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		want string
	}{{
		// Java's DataXceiver write-setup reply; colinmarc reads >= 5 bytes.
		name: "write setup",
		msg:  WriteOpResponse(),
		want: "04 08 00 12 00",
	}, {
		// status | readOpChecksumInfo{checksum{CRC32C, 512}, chunkOffset 512}
		name: "read setup at 700",
		msg:  ReadOpResponse(700),
		want: "0e 08 00 22 0a 0a 05 08 02 10 80 04 10 80 04",
	}, {
		name: "read setup at 0",
		msg:  ReadOpResponse(0),
		want: "0d 08 00 22 09 0a 05 08 02 10 80 04 10 00",
	}, {
		name: "bare error",
		msg:  ErrorOpResponse(pb.Status_ERROR, ""),
		want: "06 08 01 12 00 2a 00",
	}, {
		name: "checksum of an empty block",
		msg:  ChecksumOpResponse([16]byte{0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e}, 0),
		// status | checksumResponse{bytesPerCrc 512, crcPerBlock 0, md5, CRC32C}
		want: "1d 08 00 1a 19 08 80 04 10 00 1a 10 d41d8cd98f00b204e9800998ecf8427e 20 02",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteDelimited(&buf, tc.msg))
			require.Equal(t, hex.EncodeToString(h(t, tc.want)), hex.EncodeToString(buf.Bytes()))
			require.GreaterOrEqual(t, buf.Len(), MinReplySize)

			back := tc.msg.ProtoReflect().New().Interface()
			require.NoError(t, ReadDelimited(bufio.NewReader(&buf), 1024, back))
			require.True(t, proto.Equal(tc.msg, back))
		})
	}

	// The client's 3-byte read status is not something a DataNode may send.
	var buf bytes.Buffer
	err := WriteDelimited(&buf, &pb.ClientReadStatusProto{Status: pb.Status_CHECKSUM_OK.Enum()})
	require.ErrorIs(t, err, ErrShortReply)
	require.Zero(t, buf.Len())
	// Nor is a bare status.
	err = WriteDelimited(&buf, &pb.BlockOpResponseProto{Status: pb.Status_SUCCESS.Enum()})
	require.ErrorIs(t, err, ErrShortReply)
	// Unset required fields are refused, not sent.
	err = WriteDelimited(&buf, &pb.BlockOpResponseProto{})
	require.ErrorIs(t, err, ErrMalformed)
}

func TestReadOpResponseChunkOffset(t *testing.T) {
	for _, off := range []int64{0, 1, 511, 512, 513, 1<<27 + 5} {
		r := ReadOpResponse(off)
		co := int64(r.GetReadOpChecksumInfo().GetChunkOffset())
		// Java's BlockReaderRemote: chunkOffset <= offset < chunkOffset+512.
		require.LessOrEqual(t, co, off)
		require.Greater(t, co, off-ChunkSize)
		require.Zero(t, co%ChunkSize)
		require.Equal(t, pb.ChecksumTypeProto_CHECKSUM_CRC32C, r.GetReadOpChecksumInfo().GetChecksum().GetType())
		require.Equal(t, uint32(512), r.GetReadOpChecksumInfo().GetChecksum().GetBytesPerChecksum())
	}
}

func TestReadClientStatus(t *testing.T) {
	// Java: CHECKSUM_OK, then the next op on the same connection.
	next := opFrame(t, OpReadBlock, readBlockOp())
	r := bufio.NewReader(bytes.NewReader(append(h(t, "02 08 06"), next...)))
	st, err := ReadClientStatus(r)
	require.NoError(t, err)
	require.Equal(t, pb.Status_CHECKSUM_OK, st.GetStatus())
	op, _, err := ReadOp(r, DefaultMaxOpSize)
	require.NoError(t, err)
	require.Equal(t, OpReadBlock, op)

	// colinmarc: closes.
	st, err = ReadClientStatus(bufio.NewReader(bytes.NewReader(nil)))
	require.NoError(t, err)
	require.Nil(t, st)

	// No status, straight to the next op: nothing consumed.
	r = bufio.NewReader(bytes.NewReader(next))
	st, err = ReadClientStatus(r)
	require.NoError(t, err)
	require.Nil(t, st)
	op, _, err = ReadOp(r, DefaultMaxOpSize)
	require.NoError(t, err)
	require.Equal(t, OpReadBlock, op)

	// Garbage and truncation are typed.
	_, err = ReadClientStatus(bufio.NewReader(bytes.NewReader(h(t, "02 08"))))
	require.ErrorIs(t, err, ErrTruncated)
	_, err = ReadClientStatus(bufio.NewReader(bytes.NewReader(h(t, "7f 08"))))
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = ReadClientStatus(bufio.NewReader(bytes.NewReader(h(t, "02 10 06"))))
	require.ErrorIs(t, err, ErrMalformed)
}

func TestOpString(t *testing.T) {
	require.Equal(t, "WRITE_BLOCK(80)", OpWriteBlock.String())
	require.Equal(t, "op 7", Op(7).String())
	_, err := DecodeOp(Op(7), nil)
	require.True(t, errors.Is(err, ErrUnsupportedOp))
}
