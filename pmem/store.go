package pmem

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// Store is a crash-consistent key–value store inside one region.
//
// Values are appended to a log in the region; a record becomes committed when
// the 8-byte tail word of the active root moves past it, after the record
// itself was flushed and fenced. An index in DRAM maps each key to its latest
// record and is rebuilt from the log on open. Space held by overwritten and
// deleted values is reclaimed by compaction, which copies live records to free
// space and then switches roots with one 8-byte store.
//
// Concurrency: any number of goroutines may read (Get, View, Range, Has,
// Stats) while one writes; writers (Put, PutReader, Delete, Apply, Compact,
// Grow) are serialised. A View callback runs under the read lock and must not
// call any Store method.
type Store struct {
	// writeMu serialises writers. The fields below it are owned by the
	// writer holding it.
	writeMu sync.Mutex
	// poison is the first persistence failure; writes are refused after
	// it. Set by the writer, read by Poisoned without waiting for one.
	poison  atomic.Pointer[error]
	scratch []byte
	faulted []uint64 // bitmap of the prefaultChunk-sized chunks prefaulted in this mapping

	// mu guards the fields below it. Readers hold it shared for the whole of a
	// lookup and copy out of the mapping; the writer holds it exclusively only
	// to publish index changes, swap roots and remap.
	mu     sync.RWMutex
	mem    []byte // m.Bytes(); replaced on Grow
	root   layout.Root
	index  map[string]*entry
	live   int64 // bytes of live records
	closed bool

	m    Medium
	sb   layout.Superblock
	opts Options
	lg   *slog.Logger

	puts, deletes, gets, compactions, grows atomic.Uint64
}

// entry locates the latest record of a key.
type entry struct {
	off      int64 // record offset
	keyLen   uint32
	valueLen int64
	valueCRC uint32
	verified atomic.Bool // value checksum checked once (View)
}

func (e *entry) size() int64     { return layout.RecordSize(int(e.keyLen), e.valueLen) }
func (e *entry) valueOff() int64 { return layout.ValueOffset(e.off, e.keyLen) }
func (e *entry) value(mem []byte) []byte {
	v := e.valueOff()
	return mem[v : v+e.valueLen : v+e.valueLen]
}

// Format writes an empty store onto m, replacing whatever m held, and opens it.
func Format(m Medium, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return nil, fmt.Errorf("%w: cannot format a read-only region", ErrReadOnly)
	}
	size := m.Size()
	if size < layout.MinSize {
		return nil, fmt.Errorf("%w: region of %d bytes is below the minimum %d", ErrInvalid, size, layout.MinSize)
	}
	st := m.Stats()
	sb := layout.Superblock{
		Version:     layout.Version,
		CreatedMode: uint32(st.Mode),
		CreatedNano: time.Now().UnixNano(),
		Owner:       opts.Owner,
	}
	if opts.Pinned {
		sb.Flags |= layout.FlagPinned
	}
	if _, err := rand.Read(sb.UUID[:]); err != nil {
		return nil, fmt.Errorf("pmem: region uuid: %w", err)
	}
	mem := m.Bytes()
	clear(mem[:layout.DataStart])
	if err := sb.Encode(mem[layout.SuperblockOff:]); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	root := layout.Root{Gen: 1, Size: uint64(size), LogStart: layout.DataStart, LogEnd: uint64(midOf(size)), Tail: layout.DataStart}
	off := layout.RootOffset(layout.SlotOf(root.Gen))
	root.Encode(mem[off : off+layout.RootSize])
	m.Flush(0, layout.DataStart)
	if err := m.Fence(); err != nil {
		return nil, fmt.Errorf("pmem: format %s: %w", pathOf(m), err)
	}
	layout.StoreWord(mem[layout.CommitOff:], root.Gen)
	m.Flush(layout.CommitOff, 8)
	if err := m.Fence(); err != nil {
		return nil, fmt.Errorf("pmem: format %s: %w", pathOf(m), err)
	}
	return Recover(m, opts)
}

// Recover opens the store on m, rebuilding its index from the log. It either
// returns a store at the last committed state or fails with an error wrapping
// ErrCorrupt, ErrTruncated or ErrVersion (a *CorruptError naming the offset).
func Recover(m Medium, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	mem := m.Bytes()
	sb, err := layout.DecodeSuperblock(mem)
	if err != nil {
		return nil, corruptErr(m, err)
	}
	root, err := readActiveRoot(mem, m.Size())
	if err != nil {
		return nil, corruptErr(m, err)
	}
	s := &Store{m: m, mem: mem, sb: sb, root: root, opts: opts, lg: opts.Logger}
	if err := s.rebuildIndex(); err != nil {
		return nil, corruptErr(m, err)
	}
	s.lg.Info("store recovered", "path", pathOf(m), "mode", m.Stats().Mode, "gen", root.Gen,
		"keys", len(s.index), "log_bytes", root.Tail-root.LogStart, "took", time.Since(start))
	return s, nil
}

// readActiveRoot follows the commit word to the active root and validates it.
func readActiveRoot(mem []byte, mapped int64) (layout.Root, error) {
	gen := binary.LittleEndian.Uint64(mem[layout.CommitOff:])
	if gen == 0 {
		return layout.Root{}, &layout.Error{Off: layout.CommitOff, What: "commit word", Reason: "zero: the region was never completely formatted", Kind: layout.Corrupt}
	}
	off := layout.RootOffset(layout.SlotOf(gen))
	root, err := layout.DecodeRoot(mem[off:off+layout.RootSize], off, mapped)
	if err != nil {
		return root, err
	}
	if root.Gen != gen {
		return root, &layout.Error{Off: off, What: fmt.Sprintf("root %d", layout.SlotOf(gen)),
			Reason: fmt.Sprintf("generation %d does not match the commit word %d", root.Gen, gen), Kind: layout.Corrupt}
	}
	return root, nil
}

// rebuildIndex scans the committed log and builds the key index.
func (s *Store) rebuildIndex() error {
	mem, root := s.mem, s.root
	// Map the committed log in one call: first touches page by page cost far
	// more (about 20 us per fault on a fresh tmpfs mapping in a VM).
	if pf, ok := s.m.(Prefaulter); ok {
		pf.Prefault(int64(root.LogStart), int64(root.Tail-root.LogStart), false)
	}
	// A modest size hint: a guess per byte of log would allocate (and clear)
	// a huge table for logs of big values.
	s.index = make(map[string]*entry, min((root.Tail-root.LogStart)/4096, 1<<16))
	s.live = 0
	// Entries come from slabs and key strings from an arena, so recovering a
	// million records makes thousands of allocations, not millions.
	var slab []entry
	var arena []byte
	for off := int64(root.LogStart); off < int64(root.Tail); {
		h, key, err := layout.DecodeRecord(mem, off, int64(root.Tail))
		if err != nil {
			return err
		}
		size := h.Size()
		e, exists := s.index[string(key)]
		if exists {
			s.live -= e.size()
			if h.Kind == layout.KindDelete {
				delete(s.index, string(key))
			}
		}
		if h.Kind == layout.KindPut {
			if !exists {
				if len(slab) == 0 {
					slab = make([]entry, 1024)
				}
				e, slab = &slab[0], slab[1:]
				if cap(arena)-len(arena) < len(key) {
					arena = make([]byte, 0, max(64<<10, len(key)))
				}
				arena = append(arena, key...)
				s.index[unsafe.String(&arena[len(arena)-len(key)], len(key))] = e
			}
			e.off, e.keyLen, e.valueLen, e.valueCRC = off, h.KeyLen, int64(h.ValueLen), h.ValueCRC
			e.verified.Store(false)
			if s.opts.VerifyOnOpen {
				if got := layout.CRC(e.value(mem)); got != e.valueCRC {
					return &layout.Error{Off: e.valueOff(), What: "record value", Kind: layout.Corrupt,
						Reason: fmt.Sprintf("checksum mismatch for key %q (stored %08x, computed %08x)", key, e.valueCRC, got)}
				}
				e.verified.Store(true)
			}
			s.live += size
		}
		off += size
	}
	return nil
}

// corruptErr turns a layout decoding error into a *CorruptError naming the file.
func corruptErr(m Medium, err error) error {
	var le *layout.Error
	if !errors.As(err, &le) {
		return err
	}
	kind := ErrCorrupt
	switch le.Kind {
	case layout.Truncated:
		kind = ErrTruncated
	case layout.BadVersion:
		kind = ErrVersion
	}
	return &CorruptError{Path: pathOf(m), Offset: le.Off, What: le.What, Reason: le.Reason, Kind: kind}
}

func pathOf(m Medium) string { return m.Stats().Path }

// Close closes the store and its medium. Slices handed out by View are
// invalid afterwards.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	s.index = nil
	s.mem = nil
	return s.m.Close()
}

// Medium returns the medium the store lives on.
func (s *Store) Medium() Medium { return s.m }

// Path is the file or device backing the store ("" in memory).
func (s *Store) Path() string { return pathOf(s.m) }

// where names the store in messages.
func (s *Store) where() string {
	if p := s.Path(); p != "" {
		return p
	}
	return "<memory>"
}

// Stats describe a store's space and traffic.
type Stats struct {
	Medium       MediumStats
	Gen          uint64 // generation of the active root
	Size         int64  // bytes of the region the active root describes
	LogStart     int64
	LogEnd       int64
	Tail         int64
	Keys         int
	LiveBytes    int64 // bytes of records holding current values
	GarbageBytes int64 // bytes of overwritten or deleted records, reclaimable by compaction
	FreeBytes    int64 // bytes of the heap outside the log (half of them are compaction headroom)
	Puts         uint64
	Deletes      uint64
	Gets         uint64
	Compactions  uint64
	Grows        uint64
}

// UsedBytes is the space the region could not give back without compaction.
func (st Stats) UsedBytes() int64 { return st.Size - st.FreeBytes }

// Stats returns a snapshot of the store's counters.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	r, keys, live := s.root, len(s.index), s.live
	s.mu.RUnlock()
	used := int64(r.Tail - r.LogStart)
	return Stats{
		Medium:       s.m.Stats(),
		Gen:          r.Gen,
		Size:         int64(r.Size),
		LogStart:     int64(r.LogStart),
		LogEnd:       int64(r.LogEnd),
		Tail:         int64(r.Tail),
		Keys:         keys,
		LiveBytes:    live,
		GarbageBytes: used - live,
		FreeBytes:    int64(r.Size) - layout.DataStart - used,
		Puts:         s.puts.Load(),
		Deletes:      s.deletes.Load(),
		Gets:         s.gets.Load(),
		Compactions:  s.compactions.Load(),
		Grows:        s.grows.Load(),
	}
}

// Info is the identity of a region, from its superblock and active root.
type Info struct {
	Path          string
	Mode          Mode // how it is mapped now
	CreatedMode   Mode // how it was mapped when created
	Method        string
	FormatVersion uint32
	UUID          [16]byte
	Owner         string
	Pinned        bool
	Created       time.Time
	Gen           uint64
	Size          int64
}

// Info returns the region's identity.
func (s *Store) Info() Info {
	ms := s.m.Stats()
	s.mu.RLock()
	r := s.root
	s.mu.RUnlock()
	return Info{
		Path:          ms.Path,
		Mode:          ms.Mode,
		CreatedMode:   Mode(s.sb.CreatedMode),
		Method:        ms.Method,
		FormatVersion: s.sb.Version,
		UUID:          s.sb.UUID,
		Owner:         s.sb.Owner,
		Pinned:        s.sb.Pinned(),
		Created:       time.Unix(0, s.sb.CreatedNano),
		Gen:           r.Gen,
		Size:          int64(r.Size),
	}
}
