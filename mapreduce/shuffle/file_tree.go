package shuffle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// fileTree is what the file-backed stores (pmem, disk) share: key k lives in
// the file Dir/k, its components being directories, and a Put in progress
// writes a hidden temporary file ".NAME.tmp-RANDOM" beside it, renamed over
// NAME once durable. Keys never start a component with a dot, so the
// temporaries are never keys.
//
//	Dir/
//	  job-7/
//	    map-3/
//	      part-0                 key "job-7/map-3/part-0"
//	      .part-1.tmp-5f0c9a…    a Put of "job-7/map-3/part-1" in progress
type fileTree struct {
	kind    string
	dir     string
	latency time.Duration
	closed  atomic.Bool
}

// tempMarker separates a temporary file's key name from its random suffix
// (the pmem package and os.CreateTemp below use the same shape).
const tempMarker = ".tmp-"

func newFileTree(kind string, c Config) (*fileTree, error) {
	dir := filepath.Clean(c.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shuffle: open %s store: create %s: %w (is the directory writable?)", kind, dir, err)
	}
	return &fileTree{kind: kind, dir: dir, latency: c.Latency}, nil
}

// Path returns the file of key.
func (t *fileTree) Path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return t.path(key), nil
}

func (t *fileTree) path(key string) string {
	return filepath.Join(t.dir, filepath.FromSlash(key))
}

// begin starts an operation: the store is open, the injected latency has
// passed and ctx is not done.
func (t *fileTree) begin(ctx context.Context, op, key string) error {
	if t.closed.Load() {
		return fmt.Errorf("%w: %s store %s: %s %q", ErrClosed, t.kind, t.dir, op, key)
	}
	if err := sleep(ctx, t.latency); err != nil {
		return t.wrap(op, key, err)
	}
	return nil
}

func (t *fileTree) wrap(op, key string, err error) error {
	return fmt.Errorf("shuffle: %s store %s: %s %q: %w", t.kind, t.dir, op, key, err)
}

func (t *fileTree) notFound(key string) error {
	return fmt.Errorf("%w: %s store %s: key %q", ErrNotFound, t.kind, t.dir, key)
}

// putError wraps an error of a Put, recognising a key that collides with
// another key's file or directory.
func (t *fileTree) putError(key string, err error) error {
	if isConflict(err) {
		return fmt.Errorf("%w: %s store %s: put %q: a file store keeps a key as a file and its prefixes as directories, so %q cannot coexist with a key that is its prefix or has it as a prefix (delete that key first): %w",
			ErrConflict, t.kind, t.dir, key, key, err)
	}
	return t.wrap("put", key, err)
}

// isConflict reports whether err says a path was a file where a directory
// was needed, or the reverse.
func isConflict(err error) bool {
	return errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// isAbsent reports whether err says the path names no file of a key (it,
// or a parent, does not exist or is of the wrong type).
func isAbsent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR)
}

// checkSize refuses a file longer than any value Put accepts.
func (t *fileTree) checkSize(key string, n int64) error {
	if n > MaxValueSize {
		return fmt.Errorf("%w: %s store %s: key %q: file is %d bytes (at most %d); it was not written by this package",
			ErrTooLarge, t.kind, t.dir, key, n, MaxValueSize)
	}
	return nil
}

// deletePrefix removes every key starting with prefix, and the temporary
// files of Puts of such keys (left by a crash, or in progress). A prefix
// ending in "/" also removes its directory once empty.
func (t *fileTree) deletePrefix(ctx context.Context, prefix string) error {
	if err := validPrefix(prefix); err != nil {
		return fmt.Errorf("shuffle: %s store %s: delete prefix: %w", t.kind, t.dir, err)
	}
	if err := t.begin(ctx, "delete prefix", prefix); err != nil {
		return err
	}
	dirPart, namePart := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirPart, namePart = prefix[:i], prefix[i+1:]
	}
	parent := t.dir
	if dirPart != "" {
		parent = t.path(dirPart)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		if isAbsent(err) {
			return nil
		}
		return t.wrap("delete prefix", prefix, err)
	}
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return t.wrap("delete prefix", prefix, err)
		}
		name := e.Name()
		base, ok := keyName(name)
		if !ok || !strings.HasPrefix(base, namePart) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(parent, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return t.wrap("delete prefix", prefix, err)
	}
	if namePart == "" && dirPart != "" {
		os.Remove(parent) // only if empty: a concurrent Put may have refilled it
	}
	return nil
}

// keyName returns the key component a directory entry belongs to: its name,
// or for a temporary file the name it will be renamed to. ok is false for
// other hidden entries.
func keyName(entry string) (name string, ok bool) {
	if !strings.HasPrefix(entry, ".") {
		return entry, true
	}
	i := strings.LastIndex(entry, tempMarker)
	if i <= 1 {
		return "", false
	}
	return entry[1:i], true
}

// close marks the store closed.
func (t *fileTree) close() error {
	t.closed.Store(true)
	return nil
}

// readFile returns a copy of the file of key, read with read(2).
func (s *fileTree) readFile(ctx context.Context, op, key string) ([]byte, error) {
	if err := ValidKey(key); err != nil {
		return nil, s.wrap(op, key, err)
	}
	if err := s.begin(ctx, op, key); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		if isAbsent(err) {
			return nil, s.notFound(key)
		}
		return nil, s.wrap(op, key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, s.wrap(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, s.notFound(key)
	}
	if err := s.checkSize(key, fi.Size()); err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("file shrank while read (was it written outside the store?): %w", err)
		}
		return nil, s.wrap(op, key, err)
	}
	return b, nil
}
