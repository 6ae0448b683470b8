package shuffle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// diskStore keeps each value in a file on a local disk, as Hadoop's map
// tasks spill their output: written to a temporary file, fsynced, renamed
// into place and the directory fsynced; read back with read(2).
type diskStore struct {
	*fileTree
}

func openDisk(c Config) (*diskStore, error) {
	t, err := newFileTree(KindDisk, c)
	if err != nil {
		return nil, err
	}
	return &diskStore{fileTree: t}, nil
}

func (s *diskStore) Kind() string { return KindDisk }

func (s *diskStore) Put(ctx context.Context, key string, data []byte) error {
	if err := checkPut(key, data); err != nil {
		return s.wrap("put", key, err)
	}
	if err := s.begin(ctx, "put", key); err != nil {
		return err
	}
	if err := s.put(ctx, s.path(key), data); err != nil {
		return s.putError(key, err)
	}
	return nil
}

func (s *diskStore) put(ctx context.Context, path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+base+tempMarker+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := writeAll(ctx, f, data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func (s *diskStore) Get(ctx context.Context, key string) ([]byte, error) {
	return s.readFile(ctx, "get", key)
}

func (s *diskStore) View(ctx context.Context, key string, fn func([]byte) error) error {
	b, err := s.readFile(ctx, "view", key)
	if err != nil {
		return err
	}
	return fn(b)
}

func (s *diskStore) DeletePrefix(ctx context.Context, prefix string) error {
	return s.deletePrefix(ctx, prefix)
}

func (s *diskStore) Close() error { return s.close() }
