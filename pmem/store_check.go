package pmem

import (
	"encoding/binary"
	"fmt"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// CheckReport is the outcome of a deep check of a store.
type CheckReport struct {
	Records  int   // records in the committed log
	Puts     int   // of which puts
	Deletes  int   // of which deletes
	Keys     int   // live keys
	LogBytes int64 // bytes of committed log
	// InactiveRoot describes the other root slot: it is not used, and may be
	// stale or torn by a crash during a root switch, which is harmless.
	InactiveRoot string
	// Problems lists every damage found; empty means the store is sound.
	Problems []error
}

// OK reports whether the check found no problem.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 }

// Check verifies every checksum in the store: the superblock, the active
// root, the header and value of every record in the committed log (including
// superseded ones), and that the index agrees with the log. It reads under
// the read lock, so writers wait while it runs.
func (s *Store) Check() CheckReport {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var rep CheckReport
	if s.closed {
		rep.Problems = append(rep.Problems, ErrClosed)
		return rep
	}
	problem := func(err error) { rep.Problems = append(rep.Problems, corruptErr(s.m, err)) }
	mem, root := s.mem, s.root
	if _, err := layout.DecodeSuperblock(mem); err != nil {
		problem(err)
	}
	if r, err := readActiveRoot(mem, int64(len(mem))); err != nil {
		problem(err)
	} else if r.Gen != root.Gen || r.Tail != root.Tail {
		problem(&layout.Error{Off: layout.CommitOff, What: "active root", Kind: layout.Corrupt,
			Reason: fmt.Sprintf("media says generation %d tail %d, the open store %d tail %d", r.Gen, r.Tail, root.Gen, root.Tail)})
	}
	other := layout.SlotOf(root.Gen + 1)
	off := layout.RootOffset(other)
	if r, err := layout.DecodeRoot(mem[off:off+layout.RootSize], off, int64(len(mem))); err != nil {
		if binary.LittleEndian.Uint64(mem[off:]) == 0 {
			rep.InactiveRoot = fmt.Sprintf("slot %d unused", other)
		} else {
			rep.InactiveRoot = fmt.Sprintf("slot %d stale (%v)", other, err)
		}
	} else {
		rep.InactiveRoot = fmt.Sprintf("slot %d generation %d (previous)", other, r.Gen)
	}

	rep.LogBytes = int64(root.Tail - root.LogStart)
	latest := make(map[string]int64, len(s.index))
	for off := int64(root.LogStart); off < int64(root.Tail); {
		h, key, err := layout.DecodeRecord(mem, off, int64(root.Tail))
		if err != nil {
			problem(err)
			break // the rest of the log cannot be framed
		}
		rep.Records++
		if h.Kind == layout.KindPut {
			rep.Puts++
			v := layout.ValueOffset(off, h.KeyLen)
			if got := layout.CRC(mem[v : v+int64(h.ValueLen)]); got != h.ValueCRC {
				problem(&layout.Error{Off: v, What: "record value", Kind: layout.Corrupt,
					Reason: fmt.Sprintf("checksum mismatch for key %q (stored %08x, computed %08x)", key, h.ValueCRC, got)})
			}
			latest[string(key)] = off
		} else {
			rep.Deletes++
			delete(latest, string(key))
		}
		off += h.Size()
	}
	rep.Keys = len(s.index)
	if len(latest) != len(s.index) {
		problem(&layout.Error{Off: int64(root.LogStart), What: "index", Kind: layout.Corrupt,
			Reason: fmt.Sprintf("log holds %d live keys, index %d", len(latest), len(s.index))})
	}
	for k, e := range s.index {
		if off, ok := latest[k]; !ok || off != e.off {
			problem(&layout.Error{Off: e.off, What: "index", Kind: layout.Corrupt,
				Reason: fmt.Sprintf("key %q indexed at %d, log has it at %d (present %v)", k, e.off, off, ok)})
			break
		}
	}
	return rep
}
