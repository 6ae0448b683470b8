//go:build !linux

package pmem

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// CreateRegion needs Linux: mapping a region relies on MAP_SYNC, device-DAX
// and fallocate(2). Elsewhere it fails with an error wrapping
// errors.ErrUnsupported.
func CreateRegion(path string, size int64, opts RegionOptions) (*Region, error) {
	return nil, unsupported("create", path)
}

// OpenRegion needs Linux; see CreateRegion.
func OpenRegion(path string, opts RegionOptions) (*Region, error) {
	return nil, unsupported("open", path)
}

// OpenRegionFile needs Linux; see CreateRegion.
func OpenRegionFile(f *os.File, opts RegionOptions) (*Region, error) {
	return nil, unsupported("open", f.Name())
}

// LockFile needs Linux; see CreateRegion.
func LockFile(f *os.File) error { return unsupported("lock", f.Name()) }

func unsupported(op, path string) error {
	return fmt.Errorf("pmem: %s region %s: mapping persistent-memory regions needs Linux (this is %s/%s); run marvel on Linux, or use an in-memory medium for tests: %w",
		op, path, runtime.GOOS, runtime.GOARCH, errors.ErrUnsupported)
}

// The hooks below are never reached: no Region can be made on this platform.

func (r *Region) growLocked(newSize int64) error { return unsupported("grow", r.path) }

func (r *Region) releaseLocked() error { return nil }

func msyncRange(b []byte) error { return unsupported("sync", "") }

func syncDir(dir string) error { return unsupported("sync directory of", dir) }

func renameFile(oldPath, newPath string) error { return unsupported("rename", oldPath) }

func prefault(b []byte, write bool) {}

func requireDAX(f *os.File) error { return unsupported("map", f.Name()) }

func filesSupported(path string) error { return unsupported("create file", path) }
