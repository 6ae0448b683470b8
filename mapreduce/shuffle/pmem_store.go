package shuffle

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/marvel-serverless/marvel/pmem"
)

// pmemStore keeps each value in a file of the PMEM namespace, written and
// published durably by pmem.CreateFile. On DAX, View reads it in place
// through a mapping (pmem.MapFile): the reducer gets the persistent memory
// itself. Get, which returns a copy anyway, reads the file.
type pmemStore struct {
	*fileTree
	mode pmem.Mode
	// inPlace is whether View lends mappings: on DAX (fsdax asked for, or
	// found by auto). In emulated mode a file's bytes are page cache, not
	// persistent memory, and one read(2) costs less than mapping them and
	// unmapping them again (a TLB shootdown on every core): on the
	// development VM reducers that viewed 2 MiB partitions through mappings
	// spent more time than reducers that read them.
	inPlace bool
}

func openPMEM(c Config) (*pmemStore, error) {
	mode, err := parseMode(c.Mode)
	if err != nil {
		return nil, err // Validate checked it
	}
	t, err := newFileTree(KindPMEM, c)
	if err != nil {
		return nil, err
	}
	s := &pmemStore{fileTree: t, mode: mode}
	switch mode {
	case pmem.ModeFSDax:
		s.inPlace = true
	case pmem.ModeAuto:
		s.inPlace = onDAX(c.Dir)
	}
	return s, nil
}

// onDAX reports whether files written in dir are on a DAX filesystem, by
// starting one with ModeFSDax (which probes MAP_SYNC) and dropping it.
func onDAX(dir string) bool {
	w, err := pmem.CreateFile(filepath.Join(dir, "dax-probe"), pmem.FileOptions{Mode: pmem.ModeFSDax, Overwrite: true})
	if err != nil {
		return false
	}
	w.Abort()
	return true
}

func (s *pmemStore) Kind() string { return KindPMEM }

func (s *pmemStore) Put(ctx context.Context, key string, data []byte) error {
	if err := checkPut(key, data); err != nil {
		return s.wrap("put", key, err)
	}
	if err := s.begin(ctx, "put", key); err != nil {
		return err
	}
	w, err := pmem.CreateFile(s.path(key), pmem.FileOptions{
		Mode:      s.mode,
		SizeHint:  int64(len(data)),
		MaxSize:   MaxValueSize,
		Overwrite: true,
	})
	if err != nil {
		return s.putError(key, err)
	}
	if err := writeAll(ctx, w, data); err != nil {
		return s.putError(key, errors.Join(err, w.Abort()))
	}
	if err := w.Commit(); err != nil {
		return s.putError(key, err)
	}
	return nil
}

// Get reads a copy with read(2): copying out of a mapping would cost the
// same copy plus mapping and unmapping the pages.
func (s *pmemStore) Get(ctx context.Context, key string) ([]byte, error) {
	return s.readFile(ctx, "get", key)
}

func (s *pmemStore) View(ctx context.Context, key string, fn func([]byte) error) error {
	return s.view(ctx, "view", key, fn)
}

// viewMapMin is the smallest value View lends as a mapping; a smaller one
// is read into a buffer. Mapping a few pages and unmapping them (a TLB
// shootdown on every core) costs more than copying them: on the development
// VM a mapped view of 100 KiB took 4 to 8 times as long as read(2), while
// from a few MiB on the two cost about the same.
const viewMapMin = 1 << 20

// view maps the file of key read-only, calls fn with the mapping and unmaps
// it; off DAX, or for a value under viewMapMin, it reads the file instead.
// An empty value is passed as an empty, non-nil slice.
func (s *pmemStore) view(ctx context.Context, op, key string, fn func([]byte) error) error {
	if err := ValidKey(key); err != nil {
		return s.wrap(op, key, err)
	}
	if !s.inPlace {
		b, err := s.readFile(ctx, op, key)
		if err != nil {
			return err
		}
		return fn(b)
	}
	if fi, err := os.Stat(s.path(key)); err == nil && fi.Size() < viewMapMin {
		b, err := s.readFile(ctx, op, key)
		if err != nil {
			return err
		}
		return fn(b)
	}
	if err := s.begin(ctx, op, key); err != nil {
		return err
	}
	m, err := pmem.MapFile(s.path(key), s.mode)
	if err != nil {
		if errors.Is(err, pmem.ErrNotExist) || errors.Is(err, pmem.ErrInvalid) || isAbsent(err) {
			return s.notFound(key)
		}
		return s.wrap(op, key, err)
	}
	defer m.Close()
	if err := s.checkSize(key, m.Size()); err != nil {
		return err
	}
	b := m.Bytes()
	if b == nil {
		b = []byte{}
	}
	prefault(b) // the reader reads it all: map it in one call
	return fn(b)
}

func (s *pmemStore) DeletePrefix(ctx context.Context, prefix string) error {
	return s.deletePrefix(ctx, prefix)
}

func (s *pmemStore) Close() error { return s.close() }
