// Package layout defines the on-media format of a Marvel region: the
// superblock, the commit word, the two alternating roots and the log records.
// It only encodes and decodes bytes; it never maps, flushes or allocates media.
//
// A region file (or device) looks like this; all integers are little-endian:
//
//	offset 0                                   4096 (DataStart)                 Size
//	+------------+--------+--------+--------+--+------------------------------------+
//	| superblock | commit | root 0 | root 1 |  | log records ...     | free ...     |
//	|  128 B     | word 8 | 128 B  | 128 B  |  |logStart          tail          logEnd
//	+------------+--------+--------+--------+--+------------------------------------+
//	0            256      512      768
//
//	superblock (immutable after create; CRC32C over bytes 0..124)
//	  0 magic "MRVLPMEM"   8 version u32   12 flags u32 (bit 0 pinned)
//	 16 createdMode u32   20 reserved     24 createdUnixNano i64
//	 32 uuid [16]B        48 ownerLen u16 50 owner [62]B   112 reserved  124 crc u32
//
//	commit word (own cache line): u64 generation of the active root. The root
//	in slot gen%2 is active. Changing this 8-byte aligned word is the single
//	atomic step that switches roots.
//
//	root (slot i at 512+128*i; CRC32C over bytes 0..60 of the first line)
//	  0 gen u64   8 size u64   16 logStart u64   24 logEnd u64
//	 32 reserved (28 B)       60 crc u32
//	 64 tail u64 (second cache line, outside the CRC: the 8-byte commit point
//	    of the log; records in [logStart, tail) are committed)
//
//	record (8-byte aligned, position independent)
//	  0 magic u32 "Mrec"  4 kind u8 (1 put, 2 delete)  5 reserved [3]B
//	  8 keyLen u32       12 valueCRC u32 (CRC32C of the value)
//	 16 valueLen u64     24 reserved u32
//	 28 headerCRC u32 (CRC32C of bytes 0..28 followed by the key)
//	 32 key, value, zero padding to a multiple of 8
//
// Version rules: Version is bumped whenever any of the structures above changes
// in a way an older reader would misread. Readers refuse versions they do not
// know (ErrVersion); additive changes use reserved bytes and flags that old
// readers ignore safely, and do not bump the version.
package layout

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"unsafe"
)

// Sizes and offsets of the fixed structures.
const (
	Magic          = "MRVLPMEM"
	Version        = 1
	SuperblockOff  = 0
	SuperblockSize = 128
	CommitOff      = 256
	RootOff        = 512
	RootSize       = 128
	RootTailOff    = 64 // within a root
	DataStart      = 4096
	MinSize        = 64 << 10
	OwnerMax       = 62

	RecordMagic      = 0x6365724d // "Mrec" little-endian
	RecordHeaderSize = 32
	MaxKeyLen        = 4096
	// MaxValueLen bounds a single value (1 TiB): far above any region we map,
	// low enough that size arithmetic never overflows.
	MaxValueLen = 1 << 40

	FlagPinned = 1 << 0
)

// Record kinds.
const (
	KindPut    = 1
	KindDelete = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC returns the CRC32C (Castagnoli) checksum of b.
func CRC(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// CRCUpdate continues a CRC32C over b.
func CRCUpdate(crc uint32, b []byte) uint32 { return crc32.Update(crc, castagnoli, b) }

// ErrKind classifies a decoding failure.
type ErrKind int

const (
	Corrupt ErrKind = iota
	Truncated
	BadVersion
)

// Error is a decoding failure at a byte offset.
type Error struct {
	Off    int64
	What   string
	Reason string
	Kind   ErrKind
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s at offset %d: %s", e.What, e.Off, e.Reason)
}

func errf(kind ErrKind, off int64, what, format string, args ...any) *Error {
	return &Error{Off: off, What: what, Reason: fmt.Sprintf(format, args...), Kind: kind}
}

// StoreWord writes v little-endian into b[0:8] with one 8-byte store, which
// b must be 8-byte aligned for. It is how the commit word and the log tail are
// changed: a process may die between any two instructions, so these commit
// points must never be written byte by byte (binary.LittleEndian.PutUint64
// compiles to eight 1-byte stores under -race or -N, and a kill between two
// of them leaves a torn word that names no state the store ever had).
func StoreWord(b []byte, v uint64) {
	_ = b[7]
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%8 != 0 {
		panic(fmt.Sprintf("layout: commit word at %p is not 8-byte aligned", p))
	}
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], v)
	atomic.StoreUint64((*uint64)(p), binary.NativeEndian.Uint64(le[:]))
}

// Superblock is the immutable identity of a region.
type Superblock struct {
	Version     uint32
	Flags       uint32
	CreatedMode uint32
	CreatedNano int64
	UUID        [16]byte
	Owner       string
}

// Pinned reports whether the region is exempt from lease reclamation.
func (s *Superblock) Pinned() bool { return s.Flags&FlagPinned != 0 }

// Encode writes the superblock into b[0:SuperblockSize].
func (s *Superblock) Encode(b []byte) error {
	if len(s.Owner) > OwnerMax {
		return fmt.Errorf("owner %q longer than %d bytes", s.Owner, OwnerMax)
	}
	b = b[:SuperblockSize]
	clear(b)
	copy(b[0:8], Magic)
	binary.LittleEndian.PutUint32(b[8:], s.Version)
	binary.LittleEndian.PutUint32(b[12:], s.Flags)
	binary.LittleEndian.PutUint32(b[16:], s.CreatedMode)
	binary.LittleEndian.PutUint64(b[24:], uint64(s.CreatedNano))
	copy(b[32:48], s.UUID[:])
	binary.LittleEndian.PutUint16(b[48:], uint16(len(s.Owner)))
	copy(b[50:50+OwnerMax], s.Owner)
	binary.LittleEndian.PutUint32(b[124:], CRC(b[:124]))
	return nil
}

// DecodeSuperblock parses and verifies the superblock at the start of b.
func DecodeSuperblock(b []byte) (Superblock, error) {
	var s Superblock
	if len(b) < DataStart {
		return s, errf(Truncated, 0, "superblock", "region is %d bytes, shorter than its %d-byte header", len(b), DataStart)
	}
	if string(b[0:8]) != Magic {
		return s, errf(Corrupt, 0, "superblock", "bad magic %q: not a Marvel region", b[0:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[124:]), CRC(b[:124]); got != want {
		return s, errf(Corrupt, 0, "superblock", "checksum mismatch (stored %08x, computed %08x)", got, want)
	}
	s.Version = binary.LittleEndian.Uint32(b[8:])
	if s.Version != Version {
		return s, errf(BadVersion, 8, "superblock", "format version %d, this build reads version %d", s.Version, Version)
	}
	s.Flags = binary.LittleEndian.Uint32(b[12:])
	s.CreatedMode = binary.LittleEndian.Uint32(b[16:])
	s.CreatedNano = int64(binary.LittleEndian.Uint64(b[24:]))
	copy(s.UUID[:], b[32:48])
	n := int(binary.LittleEndian.Uint16(b[48:]))
	if n > OwnerMax {
		return s, errf(Corrupt, 48, "superblock", "owner length %d exceeds %d", n, OwnerMax)
	}
	s.Owner = string(b[50 : 50+n])
	return s, nil
}

// Root describes the log. Two roots alternate; the commit word selects one.
type Root struct {
	Gen      uint64
	Size     uint64 // bytes of the region this root describes
	LogStart uint64
	LogEnd   uint64
	Tail     uint64 // commit point of the log (outside the root checksum)
}

// RootOffset is the byte offset of root slot i (0 or 1).
func RootOffset(slot int) int64 { return RootOff + int64(slot)*RootSize }

// SlotOf is the root slot that generation gen lives in.
func SlotOf(gen uint64) int { return int(gen % 2) }

// EncodeRoot writes r into b[0:RootSize] (the tail included).
func (r *Root) Encode(b []byte) {
	b = b[:RootSize]
	clear(b)
	binary.LittleEndian.PutUint64(b[0:], r.Gen)
	binary.LittleEndian.PutUint64(b[8:], r.Size)
	binary.LittleEndian.PutUint64(b[16:], r.LogStart)
	binary.LittleEndian.PutUint64(b[24:], r.LogEnd)
	binary.LittleEndian.PutUint32(b[60:], CRC(b[:60]))
	binary.LittleEndian.PutUint64(b[RootTailOff:], r.Tail)
}

// DecodeRoot parses root slot bytes b (RootSize long) found at offset off and
// checks it against the region's mapped length.
func DecodeRoot(b []byte, off int64, mapped int64) (Root, error) {
	var r Root
	what := fmt.Sprintf("root %d", (off-RootOff)/RootSize)
	if got, want := binary.LittleEndian.Uint32(b[60:]), CRC(b[:60]); got != want {
		return r, errf(Corrupt, off, what, "checksum mismatch (stored %08x, computed %08x)", got, want)
	}
	r.Gen = binary.LittleEndian.Uint64(b[0:])
	r.Size = binary.LittleEndian.Uint64(b[8:])
	r.LogStart = binary.LittleEndian.Uint64(b[16:])
	r.LogEnd = binary.LittleEndian.Uint64(b[24:])
	r.Tail = binary.LittleEndian.Uint64(b[RootTailOff:])
	switch {
	case r.Size > uint64(mapped):
		return r, errf(Truncated, off, what, "root describes %d bytes but only %d are present", r.Size, mapped)
	case r.LogStart < DataStart || r.LogStart%8 != 0:
		return r, errf(Corrupt, off+16, what, "log start %d is not an 8-aligned offset past the header", r.LogStart)
	case r.LogEnd > r.Size || r.LogEnd < r.LogStart:
		return r, errf(Corrupt, off+24, what, "log end %d outside [%d, %d]", r.LogEnd, r.LogStart, r.Size)
	case r.Tail < r.LogStart || r.Tail > r.LogEnd || r.Tail%8 != 0:
		return r, errf(Corrupt, off+RootTailOff, what, "tail %d outside the log [%d, %d] or not 8-aligned", r.Tail, r.LogStart, r.LogEnd)
	}
	return r, nil
}

// RecordHeader is the fixed part of a log record.
type RecordHeader struct {
	Kind     uint8
	KeyLen   uint32
	ValueCRC uint32
	ValueLen uint64
}

// RecordSize is the padded size of a record with the given key and value
// lengths.
func RecordSize(keyLen int, valueLen int64) int64 {
	return (RecordHeaderSize + int64(keyLen) + valueLen + 7) &^ 7
}

// Size is the padded size of the record h heads.
func (h *RecordHeader) Size() int64 { return RecordSize(int(h.KeyLen), int64(h.ValueLen)) }

// EncodeRecordHeader writes h and its header checksum (over the header and
// key) into b[0:RecordHeaderSize].
func EncodeRecordHeader(b []byte, h RecordHeader, key string) {
	b = b[:RecordHeaderSize]
	clear(b)
	binary.LittleEndian.PutUint32(b[0:], RecordMagic)
	b[4] = h.Kind
	binary.LittleEndian.PutUint32(b[8:], h.KeyLen)
	binary.LittleEndian.PutUint32(b[12:], h.ValueCRC)
	binary.LittleEndian.PutUint64(b[16:], h.ValueLen)
	crc := CRC(b[:28])
	crc = crc32.Update(crc, castagnoli, []byte(key))
	binary.LittleEndian.PutUint32(b[28:], crc)
}

// DecodeRecord parses the record at log[off:], where limit is the end of the
// committed log. It verifies the header checksum (which covers the key) but
// not the value checksum. It returns the header and the key bytes (aliasing
// log).
func DecodeRecord(log []byte, off, limit int64) (RecordHeader, []byte, error) {
	var h RecordHeader
	if limit > int64(len(log)) {
		limit = int64(len(log))
	}
	if off < 0 || off%8 != 0 || off+RecordHeaderSize > limit {
		return h, nil, errf(Corrupt, off, "record", "header does not fit before the log tail %d", limit)
	}
	b := log[off : off+RecordHeaderSize]
	if m := binary.LittleEndian.Uint32(b[0:]); m != RecordMagic {
		return h, nil, errf(Corrupt, off, "record", "bad record magic %08x", m)
	}
	h.Kind = b[4]
	h.KeyLen = binary.LittleEndian.Uint32(b[8:])
	h.ValueCRC = binary.LittleEndian.Uint32(b[12:])
	h.ValueLen = binary.LittleEndian.Uint64(b[16:])
	if h.Kind != KindPut && h.Kind != KindDelete {
		return h, nil, errf(Corrupt, off+4, "record", "unknown record kind %d", h.Kind)
	}
	if h.KeyLen == 0 || h.KeyLen > MaxKeyLen {
		return h, nil, errf(Corrupt, off+8, "record", "key length %d outside [1, %d]", h.KeyLen, MaxKeyLen)
	}
	if h.ValueLen > MaxValueLen || (h.Kind == KindDelete && h.ValueLen != 0) {
		return h, nil, errf(Corrupt, off+16, "record", "value length %d invalid for kind %d", h.ValueLen, h.Kind)
	}
	if size := h.Size(); size > limit-off {
		return h, nil, errf(Corrupt, off, "record", "record of %d bytes runs past the log tail %d", size, limit)
	}
	key := log[off+RecordHeaderSize : off+RecordHeaderSize+int64(h.KeyLen)]
	crc := CRC(b[:28])
	crc = crc32.Update(crc, castagnoli, key)
	if got := binary.LittleEndian.Uint32(b[28:]); got != crc {
		return h, nil, errf(Corrupt, off+28, "record", "header checksum mismatch (stored %08x, computed %08x)", got, crc)
	}
	return h, key, nil
}

// ValueOffset is where the value of a record at off with keyLen starts.
func ValueOffset(off int64, keyLen uint32) int64 { return off + RecordHeaderSize + int64(keyLen) }
