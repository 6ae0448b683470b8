package pmem

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// A namespace is a directory (on a DAX filesystem, or any filesystem for
// emulation) holding one file per region, named NAME.region. A region being
// created lives under a hidden temporary name until it is formatted, so a
// crash during creation never leaves a half-made region under its real name.

// RegionExt is the file name extension of a region in a namespace directory.
const RegionExt = ".region"

const tempPrefix = "."
const tempMarker = ".tmp-"

// MaxNameLen bounds region names.
const MaxNameLen = 200

// ValidName checks a region name: 1 to 200 characters from [A-Za-z0-9._@=+-],
// starting with a letter or digit. Names never contain a path separator, so
// a name can never reach outside its namespace directory.
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: region name of %d bytes (want 1 to %d)", ErrInvalid, len(name), MaxNameLen)
	}
	for i, c := range []byte(name) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%w: region name %q must start with a letter or digit", ErrInvalid, name)
		}
		if !alnum && !strings.ContainsRune("._@=+-", rune(c)) {
			return fmt.Errorf("%w: region name %q has character %q (allowed: letters, digits and ._@=+-)", ErrInvalid, name, c)
		}
	}
	return nil
}

// RegionPath is the path of region name in namespace directory dir.
func RegionPath(dir, name string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	return filepath.Join(dir, name+RegionExt), nil
}

// Create creates, formats and opens a new region name in dir.
func Create(dir, name string, opts Options) (*Store, error) {
	p, err := RegionPath(dir, name)
	if err != nil {
		return nil, err
	}
	return CreatePath(p, opts)
}

// Open opens the existing region name in dir and recovers its store.
func Open(dir, name string, opts Options) (*Store, error) {
	p, err := RegionPath(dir, name)
	if err != nil {
		return nil, err
	}
	return OpenPath(p, opts)
}

// OpenOrCreate opens region name in dir, creating it if it does not exist.
// created tells which happened.
func OpenOrCreate(dir, name string, opts Options) (s *Store, created bool, err error) {
	s, err = Open(dir, name, opts)
	if !errors.Is(err, ErrNotExist) {
		return s, false, err
	}
	s, err = Create(dir, name, opts)
	if errors.Is(err, ErrExist) { // another creator won the race
		s, err = Open(dir, name, opts)
		return s, false, err
	}
	return s, err == nil, err
}

func (o Options) region() RegionOptions {
	return RegionOptions{Mode: o.Mode, ReadOnly: o.ReadOnly, SysfsRoot: o.SysfsRoot, Logger: o.Logger}
}

// CreatePath creates and formats a region at path: a new file, or a devdax
// character device that does not yet hold a region.
func CreatePath(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode()&fs.ModeCharDevice == 0 {
			return nil, fmt.Errorf("%w: %s", ErrExist, path)
		}
		return formatDevice(path, opts)
	}
	dir, base := filepath.Split(path)
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, fmt.Errorf("pmem: create %s: %w", path, err)
	}
	tmp := filepath.Join(dir, tempPrefix+base+tempMarker+hex.EncodeToString(suffix[:]))
	r, err := CreateRegion(tmp, opts.InitialSize, opts.region())
	if err != nil {
		return nil, err
	}
	s, err := Format(r, opts)
	if err == nil {
		err = r.Rename(path)
	}
	if err != nil {
		r.Close()
		os.Remove(tmp)
		return nil, err
	}
	opts.Logger.Info("region created", "path", path, "bytes", r.Size(), "mode", r.Mode(), "method", r.Method())
	return s, nil
}

func formatDevice(path string, opts Options) (*Store, error) {
	r, err := OpenRegion(path, opts.region())
	if err != nil {
		return nil, err
	}
	if _, err := layout.DecodeSuperblock(r.Bytes()); err == nil {
		r.Close()
		return nil, fmt.Errorf("%w: device %s already holds a region (wipe it to reformat)", ErrExist, path)
	}
	s, err := Format(r, opts)
	if err != nil {
		r.Close()
		return nil, err
	}
	return s, nil
}

// OpenPath opens the region at path (a file or a devdax device) and recovers
// its store.
func OpenPath(path string, opts Options) (*Store, error) {
	return openStore(opts, func(ro RegionOptions) (*Region, error) { return OpenRegion(path, ro) })
}

// OpenFile recovers the store of the region behind the open file f (see
// OpenRegionFile). Closing the store closes the duplicated descriptor, not f.
func OpenFile(f *os.File, opts Options) (*Store, error) {
	return openStore(opts, func(ro RegionOptions) (*Region, error) { return OpenRegionFile(f, ro) })
}

// openStore maps a region with open and recovers its store, closing the
// region if recovery fails.
func openStore(opts Options, open func(RegionOptions) (*Region, error)) (*Store, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	r, err := open(opts.region())
	if err != nil {
		return nil, err
	}
	s, err := Recover(r, opts)
	if err != nil {
		r.Close()
		return nil, err
	}
	return s, nil
}

// Remove deletes region name from dir. The region must not be open.
func Remove(dir, name string) error {
	p, err := RegionPath(dir, name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotExist, p)
		}
		return fmt.Errorf("pmem: remove %s: %w", p, err)
	}
	return syncDir(dir)
}

// List returns the names of the regions in namespace directory dir, sorted.
// Temporary files of unfinished creations are not listed.
func List(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("pmem: list namespace %s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, tempPrefix) || !strings.HasSuffix(n, RegionExt) || e.IsDir() {
			continue
		}
		name := strings.TrimSuffix(n, RegionExt)
		if ValidName(name) == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// RemoveTemp deletes the temporary files that creations interrupted by a
// crash left in dir, and returns how many it removed. Call it only when no
// creation is running in dir (at start-up).
func RemoveTemp(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("pmem: clean namespace %s: %w", dir, err)
	}
	n := 0
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, tempPrefix) && strings.Contains(name, RegionExt+tempMarker) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, fmt.Errorf("pmem: clean namespace %s: %w", dir, err)
			}
			n++
		}
	}
	return n, nil
}
