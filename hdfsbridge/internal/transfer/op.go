package transfer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// Protocol constants.
const (
	// Version is the DataTransferProtocol version every op header carries
	// (DataTransferProtocol.DATA_TRANSFER_VERSION).
	Version = 28
	// DefaultMaxOpSize bounds an op's request message when the caller has no
	// better figure; real requests are well under 4 KiB.
	DefaultMaxOpSize = 64 << 10
	// MinReplySize is the smallest delimited frame a DataNode may send:
	// colinmarc/hdfs reads each reply with io.ReadAtLeast(5).
	MinReplySize = 5
)

// Op is a DataTransferProtocol operation code (Op.java).
type Op uint8

// The ops this package serves.
const (
	OpWriteBlock    Op = 80
	OpReadBlock     Op = 81
	OpBlockChecksum Op = 85
)

var opNames = map[Op]string{
	80:  "WRITE_BLOCK",
	81:  "READ_BLOCK",
	82:  "READ_METADATA",
	83:  "REPLACE_BLOCK",
	84:  "COPY_BLOCK",
	85:  "BLOCK_CHECKSUM",
	86:  "TRANSFER_BLOCK",
	87:  "REQUEST_SHORT_CIRCUIT_FDS",
	88:  "RELEASE_SHORT_CIRCUIT_FDS",
	89:  "REQUEST_SHORT_CIRCUIT_SHM",
	90:  "BLOCK_GROUP_CHECKSUM",
	127: "CUSTOM",
}

// String returns the Java name of the op and its code, or "op <code>".
func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return n + "(" + strconv.Itoa(int(o)) + ")"
	}
	return "op " + strconv.Itoa(int(o))
}

// delimitedOp reports whether Java's Receiver dispatches the op and reads a
// varint-delimited request for it, so the request can be skipped.
func delimitedOp(o Op) bool {
	switch o {
	case 83, 84, 86, 87, 88, 89, 90:
		return true
	}
	return false
}

// ReadOp reads one op request: a uint16 big-endian version (must be Version),
// a uint8 op code and a varint-delimited request message of at most maxMsg
// bytes, which it returns undecoded (see DecodeReadBlock and friends).
//
// At a clean end of stream (no byte of a new request) it returns io.EOF
// itself, so a server loops on ReadOp until the client closes. A version
// other than 28 is a *VersionError; an op other than WRITE_BLOCK, READ_BLOCK
// and BLOCK_CHECKSUM is an *UnsupportedOpError, returned with the op code
// (and, when Consumed, after the message was read and dropped). A length over
// maxMsg fails with ErrTooLarge before anything of that size is allocated.
func ReadOp(r *bufio.Reader, maxMsg int) (op Op, msg []byte, err error) {
	var hdr [3]byte
	n, err := io.ReadFull(r, hdr[:2])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		return 0, nil, readErr("op version", err)
	}
	if v := binary.BigEndian.Uint16(hdr[:2]); v != Version {
		return 0, nil, &VersionError{Got: v}
	}
	c, err := r.ReadByte()
	if err != nil {
		return 0, nil, readErr("op code", err)
	}
	op = Op(c)
	switch op {
	case OpWriteBlock, OpReadBlock, OpBlockChecksum:
	default:
		if !delimitedOp(op) {
			return op, nil, &UnsupportedOpError{Op: op}
		}
		if _, err := readDelimitedBytes(r, maxMsg, op.String()+" request"); err != nil {
			return op, nil, err
		}
		return op, nil, &UnsupportedOpError{Op: op, Consumed: true}
	}
	msg, err = readDelimitedBytes(r, maxMsg, op.String()+" request")
	if err != nil {
		return op, nil, err
	}
	return op, msg, nil
}

// readDelimitedBytes reads a varint length (at most 32 bits, as Java's
// vintPrefixed) and that many bytes, refusing lengths over max before
// allocating.
func readDelimitedBytes(r *bufio.Reader, max int, what string) ([]byte, error) {
	size, err := readUvarint32(r, what)
	if err != nil {
		return nil, err
	}
	if max < 0 || uint64(size) > uint64(max) {
		return nil, sizeError(what+" length", uint64(size), max)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, readErr(what, err)
	}
	return b, nil
}

// readUvarint32 reads a base-128 varint of at most 5 bytes whose value fits
// in 32 bits.
func readUvarint32(r io.ByteReader, what string) (uint32, error) {
	var v uint32
	for i := 0; i < binary.MaxVarintLen32; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, readErr(what+" length", err)
		}
		if i == binary.MaxVarintLen32-1 && c > 0x0f {
			return 0, fmt.Errorf("%w: %s length: varint over 32 bits", ErrMalformed, what)
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: %s length: varint over 32 bits", ErrMalformed, what) // unreachable
}

// ReadDelimited reads one varint-delimited message of at most max bytes into
// m. A clean end of stream before the length is io.EOF.
func ReadDelimited(r *bufio.Reader, max int, m proto.Message) error {
	what := string(m.ProtoReflect().Descriptor().Name())
	if _, err := r.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("transfer: read %s: %w", what, err)
	}
	b, err := readDelimitedBytes(r, max, what)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
	}
	return nil
}

// WriteDelimited writes m varint-delimited in a single Write. It refuses to
// send a frame shorter than MinReplySize (ErrShortReply): every message a
// DataNode sends is read by colinmarc/hdfs with io.ReadAtLeast(5), so a
// shorter one stalls the client. The reply constructors in this package
// always produce at least 5 bytes.
func WriteDelimited(w io.Writer, m proto.Message) error {
	b, err := appendDelimited(nil, m)
	if err != nil {
		return err
	}
	if len(b) < MinReplySize {
		return fmt.Errorf("%w: %s is %d bytes framed", ErrShortReply, m.ProtoReflect().Descriptor().Name(), len(b))
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("transfer: write %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// appendDelimited appends the varint length and the deterministic encoding
// of m to dst.
func appendDelimited(dst []byte, m proto.Message) ([]byte, error) {
	opts := proto.MarshalOptions{Deterministic: true}
	size := opts.Size(m)
	dst = binary.AppendUvarint(dst, uint64(size))
	dst, err := proto.MarshalOptions{Deterministic: true, UseCachedSize: true}.MarshalAppend(dst, m)
	if err != nil {
		return nil, fmt.Errorf("%w: encode %s: %w", ErrMalformed, m.ProtoReflect().Descriptor().Name(), err)
	}
	return dst, nil
}

// DecodeReadBlock decodes a READ_BLOCK request message.
func DecodeReadBlock(msg []byte) (*pb.OpReadBlockProto, error) {
	m := new(pb.OpReadBlockProto)
	return m, decodeOp(OpReadBlock, msg, m)
}

// DecodeWriteBlock decodes a WRITE_BLOCK request message.
func DecodeWriteBlock(msg []byte) (*pb.OpWriteBlockProto, error) {
	m := new(pb.OpWriteBlockProto)
	return m, decodeOp(OpWriteBlock, msg, m)
}

// DecodeBlockChecksum decodes a BLOCK_CHECKSUM request message.
func DecodeBlockChecksum(msg []byte) (*pb.OpBlockChecksumProto, error) {
	m := new(pb.OpBlockChecksumProto)
	return m, decodeOp(OpBlockChecksum, msg, m)
}

// DecodeOp decodes msg as the request type of op: *OpReadBlockProto,
// *OpWriteBlockProto or *OpBlockChecksumProto.
func DecodeOp(op Op, msg []byte) (proto.Message, error) {
	switch op {
	case OpReadBlock:
		return DecodeReadBlock(msg)
	case OpWriteBlock:
		return DecodeWriteBlock(msg)
	case OpBlockChecksum:
		return DecodeBlockChecksum(msg)
	}
	return nil, &UnsupportedOpError{Op: op}
}

func decodeOp(op Op, msg []byte, m proto.Message) error {
	if err := proto.Unmarshal(msg, m); err != nil {
		return fmt.Errorf("%w: %s request (%d bytes): %w", ErrMalformed, op, len(msg), err)
	}
	return nil
}

// WriteOpResponse is the reply to an accepted WRITE_BLOCK, sent before the
// data phase (ReceiveBlock): {status: SUCCESS, firstBadLink: ""}, framed
// 04 08 00 12 00 as Java's DataXceiver sends it. The empty firstBadLink is
// what makes it 5 bytes.
func WriteOpResponse() *pb.BlockOpResponseProto {
	return &pb.BlockOpResponseProto{
		Status:       pb.Status_SUCCESS.Enum(),
		FirstBadLink: proto.String(""),
	}
}

// ReadOpResponse is the reply to an accepted READ_BLOCK for offset, sent
// before the data phase (SendBlock): SUCCESS with checksum {CRC32C, 512} and
// chunkOffset = offset rounded down to 512, where SendBlock starts.
func ReadOpResponse(offset int64) *pb.BlockOpResponseProto {
	return &pb.BlockOpResponseProto{
		Status: pb.Status_SUCCESS.Enum(),
		ReadOpChecksumInfo: &pb.ReadOpChecksumInfoProto{
			Checksum:    checksumProto(),
			ChunkOffset: proto.Uint64(uint64(chunkStart(offset))),
		},
	}
}

// ChecksumOpResponse is the reply to BLOCK_CHECKSUM (MD5CRC) given the result
// of BlockChecksum.
func ChecksumOpResponse(md5 [16]byte, crcPerBlock int64) *pb.BlockOpResponseProto {
	return &pb.BlockOpResponseProto{
		Status: pb.Status_SUCCESS.Enum(),
		ChecksumResponse: &pb.OpBlockChecksumResponseProto{
			BytesPerCrc:   proto.Uint32(ChunkSize),
			CrcPerBlock:   proto.Uint64(uint64(crcPerBlock)),
			BlockChecksum: md5[:],
			CrcType:       pb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(),
		},
	}
}

// ErrorOpResponse is a failed reply to any op: status (ERROR,
// ERROR_UNSUPPORTED, ERROR_INVALID, ...) and message for the client's log.
// firstBadLink is set empty so the frame is never under 5 bytes.
func ErrorOpResponse(status pb.Status, message string) *pb.BlockOpResponseProto {
	return &pb.BlockOpResponseProto{
		Status:       status.Enum(),
		FirstBadLink: proto.String(""),
		Message:      proto.String(message),
	}
}

func checksumProto() *pb.ChecksumProto {
	return &pb.ChecksumProto{
		Type:             pb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(),
		BytesPerChecksum: proto.Uint32(ChunkSize),
	}
}
