package partition

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Kind says what a partition's entries are.
type Kind uint8

const (
	// KindCounts: (key, count) pairs, keys unique and ascending.
	KindCounts Kind = 1
	// KindRecords: fixed-size records, non-decreasing.
	KindRecords Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindCounts:
		return "counts"
	case KindRecords:
		return "records"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

const (
	// HeaderSize is the length of a partition's header.
	HeaderSize = 32
	// RecordSize is the length of an entry of a records partition.
	RecordSize = 100
	// Version is the format version written and accepted.
	Version = 1
)

var magic = [8]byte{'M', 'V', 'L', 'P', 'A', 'R', 'T', '\n'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Header is the decoded header of a partition.
type Header struct {
	Kind    Kind
	Count   uint64 // entries in the body
	BodyCRC uint32 // CRC-32C of the body
}

// Encode returns the header's 32 bytes.
func (h Header) Encode() []byte {
	b := make([]byte, HeaderSize)
	h.put(b)
	return b
}

func (h Header) put(b []byte) {
	copy(b[0:8], magic[:])
	b[8] = Version
	b[9] = byte(h.Kind)
	clear(b[10:16])
	binary.LittleEndian.PutUint64(b[16:24], h.Count)
	binary.LittleEndian.PutUint32(b[24:28], h.BodyCRC)
	binary.LittleEndian.PutUint32(b[28:32], checksum(b[:28]))
}

// DecodeHeader decodes and checks the header at the start of b.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, corrupt(0, "%d bytes, shorter than the %d-byte header", len(b), HeaderSize)
	}
	if !bytes.Equal(b[0:8], magic[:]) {
		return Header{}, corrupt(0, "bad magic %q (not a shuffle partition)", b[0:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[28:32]), checksum(b[:28]); got != want {
		return Header{}, corrupt(28, "header checksum %08x, computed %08x", got, want)
	}
	if b[8] != Version {
		return Header{}, corrupt(8, "version %d, want %d", b[8], Version)
	}
	h := Header{Kind: Kind(b[9]), Count: binary.LittleEndian.Uint64(b[16:24]), BodyCRC: binary.LittleEndian.Uint32(b[24:28])}
	if h.Kind != KindCounts && h.Kind != KindRecords {
		return Header{}, corrupt(9, "unknown kind %d", b[9])
	}
	for i := 10; i < 16; i++ {
		if b[i] != 0 {
			return Header{}, corrupt(i, "reserved byte is %#x, want 0", b[i])
		}
	}
	return h, nil
}

// Reader iterates over the entries of a partition in order. Keys and
// records alias the partition's bytes.
//
//	r, err := partition.Open(b)
//	for r.Next() { use(r.Key(), r.Value()) }
//	err = r.Err()
type Reader struct {
	h    Header
	body []byte
	pos  int    // next entry's offset in body
	seen uint64 // entries returned
	key  []byte
	val  uint64
	err  error
}

// Open checks the header and the body's checksum and returns a reader over
// the entries; the entries themselves are checked as Next reaches them.
func Open(b []byte) (*Reader, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return nil, err
	}
	body := b[HeaderSize:]
	if got := checksum(body); got != h.BodyCRC {
		return nil, corrupt(HeaderSize, "body checksum %08x, header says %08x (%d body bytes)", got, h.BodyCRC, len(body))
	}
	if h.Kind == KindRecords {
		if h.Count > uint64(len(body))/RecordSize || uint64(len(body)) != h.Count*RecordSize {
			return nil, corrupt(HeaderSize, "%d records need %d-byte records, body has %d bytes", h.Count, RecordSize, len(body))
		}
	} else if h.Count > uint64(len(body))/2 {
		// Every counts entry takes at least 2 bytes (a zero key length and a count).
		return nil, corrupt(16, "count %d cannot fit in %d body bytes", h.Count, len(body))
	}
	return &Reader{h: h, body: body}, nil
}

// Header returns the partition's header.
func (r *Reader) Header() Header { return r.h }

// Kind returns the partition's kind.
func (r *Reader) Kind() Kind { return r.h.Kind }

// Len returns the number of entries in the partition.
func (r *Reader) Len() uint64 { return r.h.Count }

// Next advances to the next entry and reports whether there is one. At the
// end, or on damage, it returns false; Err says which.
func (r *Reader) Next() bool {
	if r.err != nil {
		return false
	}
	if r.seen == r.h.Count {
		if r.pos != len(r.body) {
			r.err = corrupt(HeaderSize+r.pos, "%d bytes after the last of %d entries", len(r.body)-r.pos, r.h.Count)
		}
		return false
	}
	start := r.pos
	switch r.h.Kind {
	case KindRecords:
		rec := r.body[start : start+RecordSize]
		if r.seen > 0 && bytes.Compare(r.key, rec) > 0 {
			r.err = corrupt(HeaderSize+start, "record %d sorts before the one preceding it", r.seen)
			return false
		}
		r.key, r.pos = rec, start+RecordSize
	default:
		k, n := uvarint(r.body[start:])
		if n <= 0 {
			r.err = corrupt(HeaderSize+start, "entry %d: bad key length varint", r.seen)
			return false
		}
		p := start + n
		if k > uint64(len(r.body)-p) {
			r.err = corrupt(HeaderSize+start, "entry %d: key of %d bytes overruns the %d bytes left", r.seen, k, len(r.body)-p)
			return false
		}
		key := r.body[p : p+int(k)]
		p += int(k)
		v, n := uvarint(r.body[p:])
		if n <= 0 {
			r.err = corrupt(HeaderSize+p, "entry %d: bad count varint (overlong, or not in its shortest form)", r.seen)
			return false
		}
		if v == 0 {
			r.err = corrupt(HeaderSize+p, "entry %d: zero count", r.seen)
			return false
		}
		if r.seen > 0 && bytes.Compare(r.key, key) >= 0 {
			r.err = corrupt(HeaderSize+start, "entry %d: key %q does not sort after the preceding key %q", r.seen, clip(key), clip(r.key))
			return false
		}
		r.key, r.val, r.pos = key, v, p+n
	}
	r.seen++
	return true
}

// uvarint is binary.Uvarint that also refuses a value not in its shortest
// encoding (a final zero byte), so that a partition has one encoding.
func uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, -n
	}
	return v, n
}

// clip shortens a key for an error message.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// Key returns the current entry's key (counts) or record (records). It
// aliases the partition.
func (r *Reader) Key() []byte { return r.key }

// Value returns the current entry's count (counts partitions only).
func (r *Reader) Value() uint64 { return r.val }

// Err returns the damage Next found, or nil if it reached the end cleanly.
func (r *Reader) Err() error { return r.err }

// Builder encodes a partition, entry by entry, in memory.
type Builder struct {
	kind    Kind
	buf     []byte
	n       uint64
	lastOff int // offset of the last key or record in buf
	lastLen int
	done    bool
}

// NewBuilder starts a partition of the given kind; sizeHint is the
// expected body length.
func NewBuilder(kind Kind, sizeHint int) *Builder {
	buf := make([]byte, HeaderSize, HeaderSize+max(sizeHint, 0))
	return &Builder{kind: kind, buf: buf}
}

// AddCount appends (key, count) to a counts partition. Keys must be added
// in strictly ascending order and count must be at least 1.
func (b *Builder) AddCount(key []byte, count uint64) error {
	switch {
	case b.done:
		return fmt.Errorf("%w: AddCount after Finish", ErrOrder)
	case b.kind != KindCounts:
		return fmt.Errorf("%w: AddCount to a %v partition", ErrOrder, b.kind)
	case count == 0:
		return fmt.Errorf("%w: zero count for key %q", ErrOrder, clip(key))
	case b.n > 0 && bytes.Compare(b.buf[b.lastOff:b.lastOff+b.lastLen], key) >= 0:
		return fmt.Errorf("%w: key %q after %q", ErrOrder, clip(key), clip(b.buf[b.lastOff:b.lastOff+b.lastLen]))
	}
	b.buf = binary.AppendUvarint(b.buf, uint64(len(key)))
	b.lastOff, b.lastLen = len(b.buf), len(key)
	b.buf = append(b.buf, key...)
	b.buf = binary.AppendUvarint(b.buf, count)
	b.n++
	return nil
}

// AddRecord appends a RecordSize-byte record to a records partition.
// Records must be added in non-decreasing order.
func (b *Builder) AddRecord(rec []byte) error {
	switch {
	case b.done:
		return fmt.Errorf("%w: AddRecord after Finish", ErrOrder)
	case b.kind != KindRecords:
		return fmt.Errorf("%w: AddRecord to a %v partition", ErrOrder, b.kind)
	case len(rec) != RecordSize:
		return fmt.Errorf("%w: record of %d bytes, want %d", ErrOrder, len(rec), RecordSize)
	case b.n > 0 && bytes.Compare(b.buf[b.lastOff:b.lastOff+RecordSize], rec) > 0:
		return fmt.Errorf("%w: record %d sorts before the one preceding it", ErrOrder, b.n)
	}
	b.lastOff, b.lastLen = len(b.buf), RecordSize
	b.buf = append(b.buf, rec...)
	b.n++
	return nil
}

// Count returns the number of entries added.
func (b *Builder) Count() uint64 { return b.n }

// Len returns the partition's length so far, header included.
func (b *Builder) Len() int { return len(b.buf) }

// Finish writes the header and returns the encoded partition. The builder
// takes no more entries.
func (b *Builder) Finish() []byte {
	if !b.done {
		b.done = true
		Header{Kind: b.kind, Count: b.n, BodyCRC: checksum(b.buf[HeaderSize:])}.put(b.buf)
	}
	return b.buf
}
