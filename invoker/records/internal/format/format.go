package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Sizes and limits of the format.
const (
	Version           = 1
	SegmentHeaderSize = 32
	FrameHeaderSize   = 32
	ActionHeaderSize  = 40
	// MaxPayload bounds a frame's payload and an action's meta whatever
	// the options, so a damaged length can never ask for more memory.
	MaxPayload = 1 << 30
	// MaxCode bounds an action's code.
	MaxCode = 1 << 32
	// NoStatus is the status byte of a record whose summary has no status
	// code.
	NoStatus = 0xFF
)

var (
	segmentMagic = []byte("MVLSEG\r\n")
	actionMagic  = []byte("MVLACT\r\n")
	// FrameMagic starts every frame. Its bytes are not ASCII, so JSON text
	// in payloads rarely contains it; recovery looks for it when deciding
	// whether a bad spot is a torn tail.
	FrameMagic = []byte{0xD3, 0x9A, 0x4C, 0xE1}
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C of b.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateChecksum adds b to a running CRC-32C.
func UpdateChecksum(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

var le = binary.LittleEndian

// SegmentHeader returns the header of segment num.
func SegmentHeader(num uint64) []byte {
	b := make([]byte, SegmentHeaderSize)
	copy(b, segmentMagic)
	le.PutUint16(b[8:], Version)
	le.PutUint16(b[10:], SegmentHeaderSize)
	le.PutUint64(b[16:], num)
	le.PutUint32(b[28:], Checksum(b[:28]))
	return b
}

// DecodeSegmentHeader checks a segment header and returns its segment
// number.
func DecodeSegmentHeader(b []byte) (uint64, error) {
	if len(b) < SegmentHeaderSize {
		return 0, fmt.Errorf("segment header cut short: %d of %d bytes", len(b), SegmentHeaderSize)
	}
	b = b[:SegmentHeaderSize]
	if !bytes.Equal(b[:8], segmentMagic) {
		if allZero(b) {
			return 0, errors.New("segment header is all zeros")
		}
		return 0, fmt.Errorf("bad segment magic %q", b[:8])
	}
	if got, want := le.Uint32(b[28:]), Checksum(b[:28]); got != want {
		return 0, fmt.Errorf("segment header checksum mismatch (stored %#08x, computed %#08x)", got, want)
	}
	if v := le.Uint16(b[8:]); v != Version {
		return 0, fmt.Errorf("segment format version %d, this build reads version %d", v, Version)
	}
	if n := le.Uint16(b[10:]); n != SegmentHeaderSize {
		return 0, fmt.Errorf("segment header size %d, want %d", n, SegmentHeaderSize)
	}
	return le.Uint64(b[16:]), nil
}

// Frame is a decoded frame header.
type Frame struct {
	Length      uint32 // payload bytes
	BatchOffset uint64 // offset of the first frame of the batch
	HeadLength  uint32 // bytes of head JSON at the start of the payload
	Status      byte   // summary status code, or NoStatus
	PayloadCRC  uint32
}

// Size is the frame's size on disk, header included.
func (f Frame) Size() int64 { return FrameHeaderSize + int64(f.Length) }

// AppendFrame appends a frame holding head and body to dst.
func AppendFrame(dst, head, body []byte, batchOffset uint64, status byte) []byte {
	n := len(head) + len(body)
	start := len(dst)
	dst = append(dst, make([]byte, FrameHeaderSize)...)
	dst = append(dst, head...)
	dst = append(dst, body...)
	h := dst[start : start+FrameHeaderSize]
	copy(h, FrameMagic)
	le.PutUint32(h[4:], uint32(n))
	le.PutUint64(h[8:], batchOffset)
	le.PutUint32(h[16:], uint32(len(head)))
	h[20] = status
	le.PutUint32(h[24:], Checksum(dst[start+FrameHeaderSize:]))
	le.PutUint32(h[28:], Checksum(h[:28]))
	return dst
}

// DecodeFrame checks a frame header (not its payload).
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) < FrameHeaderSize {
		return Frame{}, fmt.Errorf("record header cut short: %d of %d bytes", len(b), FrameHeaderSize)
	}
	b = b[:FrameHeaderSize]
	if !bytes.Equal(b[:4], FrameMagic) {
		if allZero(b) {
			return Frame{}, errors.New("zeros where a record header should be")
		}
		return Frame{}, fmt.Errorf("bad record magic % x", b[:4])
	}
	if got, want := le.Uint32(b[28:]), Checksum(b[:28]); got != want {
		return Frame{}, fmt.Errorf("record header checksum mismatch (stored %#08x, computed %#08x)", got, want)
	}
	f := Frame{
		Length:      le.Uint32(b[4:]),
		BatchOffset: le.Uint64(b[8:]),
		HeadLength:  le.Uint32(b[16:]),
		Status:      b[20],
		PayloadCRC:  le.Uint32(b[24:]),
	}
	switch {
	case f.Length > MaxPayload:
		return Frame{}, fmt.Errorf("record length %d above the format limit %d", f.Length, MaxPayload)
	case f.HeadLength > f.Length:
		return Frame{}, fmt.Errorf("record head length %d above its length %d", f.HeadLength, f.Length)
	case f.Status > 3 && f.Status != NoStatus:
		return Frame{}, fmt.Errorf("record status byte %d", f.Status)
	case b[21] != 0 || b[22] != 0 || b[23] != 0:
		return Frame{}, errors.New("record header reserved bytes not zero")
	}
	return f, nil
}

// CheckPayload checks payload against the frame's checksum.
func (f Frame) CheckPayload(payload []byte) error {
	if len(payload) != int(f.Length) {
		return fmt.Errorf("record payload of %d bytes, header says %d", len(payload), f.Length)
	}
	if got := Checksum(payload); got != f.PayloadCRC {
		return fmt.Errorf("record checksum mismatch (stored %#08x, computed %#08x)", f.PayloadCRC, got)
	}
	return nil
}

// ActionHeader is the header of an action file.
type ActionHeader struct {
	HasCode    bool
	MetaLength uint32
	CodeLength uint64
	MetaCRC    uint32
	CodeCRC    uint32
}

// Size is the size of the whole file the header describes.
func (h ActionHeader) Size() int64 {
	return ActionHeaderSize + int64(h.MetaLength) + int64(h.CodeLength)
}

// Encode returns the header's bytes.
func (h ActionHeader) Encode() []byte {
	b := make([]byte, ActionHeaderSize)
	copy(b, actionMagic)
	le.PutUint16(b[8:], Version)
	if h.HasCode {
		le.PutUint16(b[10:], 1)
	}
	le.PutUint32(b[12:], h.MetaLength)
	le.PutUint64(b[16:], h.CodeLength)
	le.PutUint32(b[24:], h.MetaCRC)
	le.PutUint32(b[28:], h.CodeCRC)
	le.PutUint32(b[36:], Checksum(b[:36]))
	return b
}

// DecodeActionHeader checks an action file header.
func DecodeActionHeader(b []byte) (ActionHeader, error) {
	if len(b) < ActionHeaderSize {
		return ActionHeader{}, fmt.Errorf("action header cut short: %d of %d bytes", len(b), ActionHeaderSize)
	}
	b = b[:ActionHeaderSize]
	if !bytes.Equal(b[:8], actionMagic) {
		return ActionHeader{}, fmt.Errorf("bad action file magic %q", b[:8])
	}
	if got, want := le.Uint32(b[36:]), Checksum(b[:36]); got != want {
		return ActionHeader{}, fmt.Errorf("action header checksum mismatch (stored %#08x, computed %#08x)", got, want)
	}
	if v := le.Uint16(b[8:]); v != Version {
		return ActionHeader{}, fmt.Errorf("action file format version %d, this build reads version %d", v, Version)
	}
	flags := le.Uint16(b[10:])
	h := ActionHeader{
		HasCode:    flags&1 != 0,
		MetaLength: le.Uint32(b[12:]),
		CodeLength: le.Uint64(b[16:]),
		MetaCRC:    le.Uint32(b[24:]),
		CodeCRC:    le.Uint32(b[28:]),
	}
	switch {
	case flags&^1 != 0:
		return ActionHeader{}, fmt.Errorf("unknown action file flags %#x", flags)
	case h.MetaLength > MaxPayload:
		return ActionHeader{}, fmt.Errorf("action meta length %d above the format limit %d", h.MetaLength, MaxPayload)
	case h.CodeLength > MaxCode:
		return ActionHeader{}, fmt.Errorf("action code length %d above the format limit %d", h.CodeLength, uint64(MaxCode))
	case !h.HasCode && h.CodeLength != 0:
		return ActionHeader{}, fmt.Errorf("action without code has code length %d", h.CodeLength)
	case le.Uint32(b[32:]) != 0:
		return ActionHeader{}, errors.New("action header reserved bytes not zero")
	}
	return h, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
