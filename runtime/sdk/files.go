package sdk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/marvel-serverless/marvel/pmem"
)

// Files are the named files of the function's namespace, kept in the
// persistent-memory namespace directory (on fsdax, persistent memory itself).
// A file is written once: it appears under its name, whole, when its writer
// commits, and a crash before that leaves nothing. Names are slash-separated
// relative paths ("shuffle/job-7/map-3/part-0"); no component may be empty,
// "." or "..", or start with a dot.
type Files struct {
	root string
	mode pmem.Mode
}

var (
	filesOnce sync.Once
	files     *Files
	filesErr  error
)

// OpenFiles returns the namespace's files.
func OpenFiles() (*Files, error) {
	filesOnce.Do(func() {
		root := os.Getenv("MARVEL_FILES_DIR")
		if root == "" {
			filesErr = fmt.Errorf("%w: MARVEL_FILES_DIR is unset; run the action under `marvel runtime`, or set it", ErrNoFiles)
			return
		}
		var mode pmem.Mode
		if m := os.Getenv("MARVEL_PMEM_MODE"); m != "" {
			var err error
			if mode, err = pmem.ParseMode(m); err != nil {
				filesErr = fmt.Errorf("sdk: MARVEL_PMEM_MODE: %w", err)
				return
			}
		}
		files, filesErr = NewFiles(root, mode)
	})
	return files, filesErr
}

// NewFiles returns the files under root (created if missing).
func NewFiles(root string, mode pmem.Mode) (*Files, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("sdk: files directory %s: %w", root, err)
	}
	return &Files{root: root, mode: mode}, nil
}

// Root returns the directory holding the files.
func (f *Files) Root() string { return f.root }

// path checks name and returns where it lives.
func (f *Files) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") || len(name) > 4096 {
		return "", fmt.Errorf("%w: %q (want a relative slash-separated path)", ErrBadName, name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." || strings.HasPrefix(c, ".") {
			return "", fmt.Errorf("%w: %q has component %q (components may not be empty or start with a dot)", ErrBadName, name, c)
		}
	}
	return filepath.Join(f.root, filepath.FromSlash(name)), nil
}

// Create starts writing file name; Commit publishes it. With overwrite an
// existing file is replaced at Commit, else Commit fails if it exists.
func (f *Files) Create(name string, sizeHint int64, overwrite bool) (*pmem.FileWriter, error) {
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	return pmem.CreateFile(p, pmem.FileOptions{Mode: f.mode, SizeHint: sizeHint, Overwrite: overwrite})
}

// WriteFile writes data as file name, replacing any file of that name, and
// returns once it is durable.
func (f *Files) WriteFile(name string, data []byte) error {
	w, err := f.Create(name, int64(len(data)), true)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Map maps file name read-only; its Bytes are the file in place.
func (f *Files) Map(name string) (*pmem.MappedFile, error) {
	p, err := f.path(name)
	if err != nil {
		return nil, err
	}
	m, err := pmem.MapFile(p, f.mode)
	if errors.Is(err, pmem.ErrNotExist) {
		return nil, fmt.Errorf("%w: file %q", ErrNotFound, name)
	}
	return m, err
}

// ReadFile returns a copy of file name's contents.
func (f *Files) ReadFile(name string) ([]byte, error) {
	m, err := f.Map(name)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return append([]byte(nil), m.Bytes()...), nil
}

// Remove deletes file name, or the directory name with everything under it.
func (f *Files) Remove(name string) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: file %q", ErrNotFound, name)
	}
	return os.RemoveAll(p)
}

// List returns the committed files under the directory dir ("" for all),
// as names relative to the root, sorted.
func (f *Files) List(dir string) ([]string, error) {
	start := f.root
	if dir != "" {
		p, err := f.path(dir)
		if err != nil {
			return nil, err
		}
		start = p
	}
	var names []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return fs.SkipAll
			}
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != start {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil // a file being written
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(f.root, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sdk: list files under %q: %w", dir, err)
	}
	sort.Strings(names)
	return names, nil
}
