package shuffle

import (
	"context"
	"errors"

	"github.com/marvel-serverless/marvel/pmem"
)

// pmemStore keeps each value in a file of the PMEM namespace, written with
// streaming stores and published durably (pmem.CreateFile) and read through
// a mapping (pmem.MapFile): View hands the reducer the persistent memory
// itself.
type pmemStore struct {
	*fileTree
	mode pmem.Mode
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
	return &pmemStore{fileTree: t, mode: mode}, nil
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

func (s *pmemStore) Get(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, "get", key, func(b []byte) error {
		out = make([]byte, len(b))
		copy(out, b)
		return nil
	})
	return out, err
}

func (s *pmemStore) View(ctx context.Context, key string, fn func([]byte) error) error {
	return s.view(ctx, "view", key, fn)
}

// view maps the file of key read-only, calls fn with the mapping and unmaps
// it. An empty value is passed as an empty, non-nil slice.
func (s *pmemStore) view(ctx context.Context, op, key string, fn func([]byte) error) error {
	if err := ValidKey(key); err != nil {
		return s.wrap(op, key, err)
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
