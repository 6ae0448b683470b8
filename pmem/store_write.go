package pmem

import (
	"fmt"
	"io"
	"slices"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// Batch collects puts and deletes that Apply commits atomically: after a
// crash either all of them are visible or none.
type Batch struct {
	ops []batchOp
}

type batchOp struct {
	kind  uint8
	key   string
	value []byte
}

// Put adds a put of key to the batch. The batch keeps value until Apply.
func (b *Batch) Put(key string, value []byte) {
	b.ops = append(b.ops, batchOp{layout.KindPut, key, value})
}

// Delete adds a delete of key to the batch.
func (b *Batch) Delete(key string) { b.ops = append(b.ops, batchOp{kind: layout.KindDelete, key: key}) }

// Len is the number of operations in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch for reuse.
func (b *Batch) Reset() { b.ops = b.ops[:0] }

// Put stores value under key durably: when Put returns nil the value survives
// a crash of the process (and, on DAX or emulated-disk media, of the machine).
func (s *Store) Put(key string, value []byte) error {
	return s.apply([]batchOp{{layout.KindPut, key, value}})
}

// Delete removes key durably. Deleting a missing key is not an error.
func (s *Store) Delete(key string) error {
	return s.apply([]batchOp{{kind: layout.KindDelete, key: key}})
}

// Apply commits every operation of b atomically and durably.
func (s *Store) Apply(b *Batch) error { return s.apply(b.ops) }

func checkKey(key string) error {
	if len(key) == 0 || len(key) > layout.MaxKeyLen {
		return fmt.Errorf("%w: key length %d outside [1, %d]", ErrInvalid, len(key), layout.MaxKeyLen)
	}
	return nil
}

func checkValueLen(n int64) error {
	if n < 0 || n > layout.MaxValueLen {
		return fmt.Errorf("%w: value of %d bytes (limit %d)", ErrTooLarge, n, int64(layout.MaxValueLen))
	}
	return nil
}

// writableLocked reports why the store cannot take writes, if it cannot.
func (s *Store) writableLocked() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.opts.ReadOnly:
		return ErrReadOnly
	case s.poison.Load() != nil:
		return s.Poisoned()
	}
	return nil
}

// Poisoned returns nil while the store takes writes, and after a failed
// persistence operation an error wrapping ErrPoisoned with its cause: the
// store refuses every write until it is reopened. It does not wait for a
// write in progress.
func (s *Store) Poisoned() error {
	p := s.poison.Load()
	if p == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPoisoned, *p)
}

// failLocked poisons the store after a persistence failure: the state of the
// media is no longer known, so nothing more may be acknowledged.
func (s *Store) failLocked(op string, err error) error {
	if s.poison.Load() == nil {
		s.poison.Store(&err)
		s.lg.Error("persistence failed; store refuses writes until reopened", "path", s.where(), "op", op, "err", err)
	}
	return fmt.Errorf("pmem: %s %s: %w", op, s.where(), err)
}

func (s *Store) apply(ops []batchOp) error {
	var need int64
	for i := range ops {
		if err := checkKey(ops[i].key); err != nil {
			return err
		}
		if err := checkValueLen(int64(len(ops[i].value))); err != nil {
			return err
		}
		need += layout.RecordSize(len(ops[i].key), int64(len(ops[i].value)))
	}
	if len(ops) == 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	filtered, need := s.dropNoopDeletesLocked(ops, need)
	if len(filtered) == 0 {
		return nil
	}
	if err := s.reserveLocked(need); err != nil {
		return err
	}
	var crcBuf [1]uint32
	crcs := crcBuf[:0]
	start := int64(s.root.Tail)
	off := start
	for _, op := range filtered {
		size, crc := s.writeRecordLocked(s.mem, off, op.kind, op.key, op.value)
		off += size
		crcs = append(crcs, crc)
	}
	if err := s.m.Fence(); err != nil {
		return s.failLocked("write", err)
	}
	if err := s.commitTailLocked(off); err != nil {
		return err
	}
	s.publishLocked(start, filtered, crcs)
	return nil
}

// dropNoopDeletesLocked removes deletes of keys that neither exist nor are
// put by the batch: they need no record. It returns ops itself when there is
// nothing to drop, and need adjusted.
func (s *Store) dropNoopDeletesLocked(ops []batchOp, need int64) ([]batchOp, int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	noop := func(op batchOp) bool {
		if op.kind != layout.KindDelete {
			return false
		}
		_, ok := s.index[op.key]
		return !ok && !batchPuts(ops, op.key)
	}
	if !slices.ContainsFunc(ops, noop) {
		return ops, need
	}
	var kept []batchOp
	for _, op := range ops {
		if noop(op) {
			need -= layout.RecordSize(len(op.key), 0)
		} else {
			kept = append(kept, op)
		}
	}
	return kept, need
}

// batchPuts reports whether ops put key (so a delete of it must be logged).
func batchPuts(ops []batchOp, key string) bool {
	for _, op := range ops {
		if op.kind == layout.KindPut && op.key == key {
			return true
		}
	}
	return false
}

// writeRecordLocked writes one record at off and starts its write-back. It
// returns the record's size and the value's checksum.
func (s *Store) writeRecordLocked(mem []byte, off int64, kind uint8, key string, value []byte) (int64, uint32) {
	h := layout.RecordHeader{Kind: kind, KeyLen: uint32(len(key)), ValueCRC: layout.CRC(value), ValueLen: uint64(len(value))}
	size := h.Size()
	layout.EncodeRecordHeader(mem[off:], h, key)
	kOff := off + layout.RecordHeaderSize
	copy(mem[kOff:], key)
	vOff := kOff + int64(len(key))
	end := vOff + int64(len(value))
	clear(mem[end : off+size]) // padding
	if len(value) >= s.opts.NTThreshold && s.opts.NTThreshold > 0 {
		s.m.CopyNT(vOff, value)
		s.m.Flush(off, vOff-off)
		s.m.Flush(end, off+size-end)
	} else {
		copy(mem[vOff:], value)
		s.m.Flush(off, size)
	}
	return size, h.ValueCRC
}

// commitTailLocked moves the commit point of the log to tail: the single
// 8-byte store that makes everything before it committed. It must be one
// store (layout.StoreWord), never eight byte stores: a kill between two of
// those leaves a tail inside a record and a region that cannot be opened.
func (s *Store) commitTailLocked(tail int64) error {
	off := layout.RootOffset(layout.SlotOf(s.root.Gen)) + layout.RootTailOff
	layout.StoreWord(s.mem[off:], uint64(tail))
	s.m.Flush(off, 8)
	if err := s.m.Fence(); err != nil {
		return s.failLocked("commit", err)
	}
	return nil
}

// publishLocked makes committed records starting at off visible to readers.
func (s *Store) publishLocked(off int64, ops []batchOp, crcs []uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, op := range ops {
		size := layout.RecordSize(len(op.key), int64(len(op.value)))
		if old, ok := s.index[op.key]; ok {
			s.live -= old.size()
			delete(s.index, op.key)
		}
		if op.kind == layout.KindPut {
			s.index[op.key] = &entry{off: off, keyLen: uint32(len(op.key)), valueLen: int64(len(op.value)), valueCRC: crcs[i]}
			s.live += size
			s.puts.Add(1)
		} else {
			s.deletes.Add(1)
		}
		off += size
	}
	s.root.Tail = uint64(off)
}

// PutReader stores exactly n bytes read from r under key, streaming them
// straight into the region (no staging copy of the whole value). If r fails
// or ends early nothing is committed and the old value stays.
func (s *Store) PutReader(key string, r io.Reader, n int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValueLen(n); err != nil {
		return err
	}
	need := layout.RecordSize(len(key), n)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.writableLocked(); err != nil {
		return err
	}
	if err := s.reserveLocked(need); err != nil {
		return err
	}
	mem := s.mem
	off := int64(s.root.Tail)
	vOff := off + layout.RecordHeaderSize + int64(len(key))
	const chunk = 1 << 20
	if cap(s.scratch) < chunk {
		s.scratch = make([]byte, chunk)
	}
	var crc uint32
	for done := int64(0); done < n; {
		c := min(int64(chunk), n-done)
		buf := s.scratch[:c]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("pmem: put %q: read value at byte %d of %d: %w", key, done, n, err)
		}
		crc = layout.CRCUpdate(crc, buf)
		s.m.CopyNT(vOff+done, buf)
		done += c
	}
	h := layout.RecordHeader{Kind: layout.KindPut, KeyLen: uint32(len(key)), ValueCRC: crc, ValueLen: uint64(n)}
	layout.EncodeRecordHeader(mem[off:], h, key)
	copy(mem[off+layout.RecordHeaderSize:], key)
	end := vOff + n
	clear(mem[end : off+need])
	s.m.Flush(off, vOff-off)
	s.m.Flush(end, off+need-end)
	if err := s.m.Fence(); err != nil {
		return s.failLocked("write", err)
	}
	if err := s.commitTailLocked(off + need); err != nil {
		return err
	}
	s.mu.Lock()
	if old, ok := s.index[key]; ok {
		s.live -= old.size()
	}
	s.index[key] = &entry{off: off, keyLen: uint32(len(key)), valueLen: n, valueCRC: crc}
	s.live += need
	s.root.Tail = uint64(off + need)
	s.puts.Add(1)
	s.mu.Unlock()
	return nil
}
