package transfer

import (
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Every error this package returns about the bytes it was
// given wraps one of these (test with errors.Is), and its text names the
// field, size or offset that was wrong. The exceptions: io.EOF itself at a
// clean message boundary, and failures of the connection (resets, deadlines),
// which are returned wrapped with what was being read or written.
var (
	// ErrVersion: the op header carried a DataTransferProtocol version other
	// than 28. See VersionError.
	ErrVersion = errors.New("transfer: unsupported data transfer protocol version")
	// ErrUnsupportedOp: an op code other than WRITE_BLOCK, READ_BLOCK or
	// BLOCK_CHECKSUM. See UnsupportedOpError.
	ErrUnsupportedOp = errors.New("transfer: unsupported op")
	// ErrTooLarge: a length prefix exceeded its bound (op message, packet,
	// reply). Nothing of that size was allocated.
	ErrTooLarge = errors.New("transfer: message too large")
	// ErrMalformed: bytes that do not decode: a bad varint, a protobuf that
	// fails to parse or lacks a required field, a packet whose lengths
	// disagree.
	ErrMalformed = errors.New("transfer: malformed message")
	// ErrTruncated: the stream ended inside a message or packet, or before the
	// last packet of a block. Such errors also match io.ErrUnexpectedEOF.
	ErrTruncated = errors.New("transfer: truncated stream")
	// ErrChecksum: a chunk's CRC32C did not match. See ChecksumError.
	ErrChecksum = errors.New("transfer: checksum mismatch")
	// ErrSequence: a packet's seqno was not the previous one plus one. See
	// SeqnoError.
	ErrSequence = errors.New("transfer: packet out of sequence")
	// ErrOffset: a packet's offsetInBlock leaves a gap, rewinds too far or
	// starts a partial chunk it does not stay within. See OffsetError.
	ErrOffset = errors.New("transfer: packet at unexpected offset")
	// ErrRange: a read range or block length outside what the block holds or
	// the options allow.
	ErrRange = errors.New("transfer: range outside block")
	// ErrShortReply: a reply frame under MinReplySize bytes, which clients
	// that read at least 5 bytes would wait on forever.
	ErrShortReply = errors.New("transfer: reply shorter than 5 bytes")
	// ErrOptions: an invalid SendOptions or ReceiveOptions field.
	ErrOptions = errors.New("transfer: invalid options")
	// ErrSink: the BlockSink failed to store or sync received data.
	ErrSink = errors.New("transfer: block sink failed")
)

// VersionError reports an op header with a version other than Version.
type VersionError struct {
	Got uint16 // the version received
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("%v: got %d (0x%04x), want %d", ErrVersion, e.Got, e.Got, Version)
}

func (e *VersionError) Unwrap() error { return ErrVersion }

// UnsupportedOpError reports an op code this package does not serve.
type UnsupportedOpError struct {
	Op Op // the code received
	// Consumed is true when the code is a DataTransferProtocol op that Java's
	// DataXceiver dispatches (83, 84, 86-90): ReadOp then read (and bounded)
	// its message, so the connection is still in step and the caller may
	// reply BlockOpResponseProto{ERROR_UNSUPPORTED} and go on. Otherwise the
	// framing of what follows is unknown and the connection must be closed.
	Consumed bool
}

func (e *UnsupportedOpError) Error() string {
	return fmt.Sprintf("%v: %s", ErrUnsupportedOp, e.Op)
}

func (e *UnsupportedOpError) Unwrap() error { return ErrUnsupportedOp }

// ChecksumError reports a chunk whose CRC32C did not match the one sent.
type ChecksumError struct {
	Offset int64 // offset in the block of the chunk's first byte
	Len    int   // bytes in the chunk
	Seqno  int64 // the packet's seqno (-1 when not from a packet)
	Want   uint32
	Got    uint32
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%v: chunk at block offset %d (%d bytes, packet %d): sent crc32c %08x, computed %08x",
		ErrChecksum, e.Offset, e.Len, e.Seqno, e.Want, e.Got)
}

func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// SeqnoError reports a packet whose seqno did not follow the previous one.
type SeqnoError struct {
	Got  int64
	Want int64 // the only acceptable value; -2 for "0 or more" (first packet)
}

func (e *SeqnoError) Error() string {
	if e.Want == firstSeqno {
		return fmt.Sprintf("%v: first packet has seqno %d, want >= 0", ErrSequence, e.Got)
	}
	return fmt.Sprintf("%v: seqno %d, want %d", ErrSequence, e.Got, e.Want)
}

func (e *SeqnoError) Unwrap() error { return ErrSequence }

// OffsetError reports a packet whose offsetInBlock or extent is not
// acceptable given what the block already holds.
type OffsetError struct {
	Seqno  int64
	Offset int64 // the packet's offsetInBlock
	Len    int   // the packet's data length
	Have   int64 // block length before the packet
	Reason string
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("%v: packet %d at offset %d (%d bytes), block holds %d: %s",
		ErrOffset, e.Seqno, e.Offset, e.Len, e.Have, e.Reason)
}

func (e *OffsetError) Unwrap() error { return ErrOffset }

// sizeError reports a length prefix over its bound.
func sizeError(what string, got uint64, limit int) error {
	return fmt.Errorf("%w: %s %d exceeds %d", ErrTooLarge, what, got, limit)
}

// truncated reports a stream that ended inside what.
func truncated(what string) error {
	return fmt.Errorf("%w: %s: %w", ErrTruncated, what, io.ErrUnexpectedEOF)
}

// readErr turns an io.ReadFull error into a typed one: an EOF becomes
// ErrTruncated; other errors (deadlines, resets) are wrapped with context.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncated(what)
	}
	return fmt.Errorf("transfer: read %s: %w", what, err)
}
