//go:build linux

package pmem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// devDaxDefaultAlign is the alignment assumed for a device-DAX device whose
// sysfs entry has no align attribute: 2 MiB, the default of ndctl.
const devDaxDefaultAlign = 2 << 20

// devDaxInfo is what sysfs says about a device-DAX character device.
type devDaxInfo struct {
	Name  string // device name, e.g. "dax0.0"
	Dir   string // resolved sysfs directory of the device
	Size  int64  // bytes the device maps
	Align int64  // mapping alignment; mappings must start and end on it
}

// readDevDax reads the sysfs entry of the character device majMin ("253:0")
// under sysRoot ("/sys"). The entry, sysRoot/dev/char/MAJ:MIN, is a symlink
// into the device tree; it is a device-DAX device when its subsystem link
// resolves to a directory named "dax" or, failing that, when the resolved
// path runs through a "dax" directory (the class layout of older kernels).
// The size comes from the size attribute; the alignment from align (Linux
// 5.10 and later), else from device/dax_region/align, else it is taken to be
// 2 MiB. A size that is not a positive multiple of the alignment is an error.
//
// Errors wrap ErrNotDAX when the device is not device-DAX at all.
func readDevDax(sysRoot, majMin string) (devDaxInfo, error) {
	var info devDaxInfo
	if majMin == "" || strings.ContainsAny(majMin, `/\`) {
		return info, fmt.Errorf("%w: invalid device number %q", ErrInvalid, majMin)
	}
	entry := filepath.Join(sysRoot, "dev", "char", majMin)
	dir, err := filepath.EvalSymlinks(entry)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return info, fmt.Errorf("%w: character device %s has no sysfs entry %s (is sysfs mounted at %s?)",
				ErrNotDAX, majMin, entry, sysRoot)
		}
		return info, fmt.Errorf("pmem: read sysfs entry of character device %s: %w", majMin, err)
	}
	if !isDaxSysfsDir(sysRoot, dir) {
		return info, fmt.Errorf("%w: character device %s (sysfs %s) is not a device-DAX device: its subsystem is not dax",
			ErrNotDAX, majMin, dir)
	}
	info.Name = filepath.Base(dir)
	info.Dir = dir

	size, found, err := readSysfsInt(filepath.Join(dir, "size"))
	if err != nil {
		return info, err
	}
	if !found {
		return info, fmt.Errorf("pmem: device-DAX %s: sysfs attribute %s is missing", info.Name, filepath.Join(dir, "size"))
	}
	if size <= 0 {
		return info, fmt.Errorf("%w: device-DAX %s has size %d (the namespace has no capacity; reconfigure it with daxctl)",
			ErrInvalid, info.Name, size)
	}
	info.Size = size

	info.Align = devDaxDefaultAlign
	for _, attr := range []string{"align", filepath.Join("device", "dax_region", "align")} {
		a, found, err := readSysfsInt(filepath.Join(dir, attr))
		if err != nil {
			return info, err
		}
		if found {
			if a <= 0 || a&(a-1) != 0 {
				return info, fmt.Errorf("%w: device-DAX %s: sysfs %s is %d, not a power of two",
					ErrInvalid, info.Name, filepath.Join(dir, attr), a)
			}
			info.Align = a
			break
		}
	}
	if info.Size%info.Align != 0 {
		return info, fmt.Errorf("%w: device-DAX %s: size %d bytes is not a multiple of its alignment %d bytes, so it cannot be mapped whole (reconfigure the namespace with daxctl)",
			ErrInvalid, info.Name, info.Size, info.Align)
	}
	return info, nil
}

// isDaxSysfsDir reports whether the resolved sysfs directory dir of a
// character device belongs to the dax subsystem.
func isDaxSysfsDir(sysRoot, dir string) bool {
	if sub, err := filepath.EvalSymlinks(filepath.Join(dir, "subsystem")); err == nil {
		return filepath.Base(sub) == "dax"
	}
	// No subsystem link: look for a "dax" component below the sysfs root
	// (…/dax0.0/dax/dax0.0 or /sys/class/dax/dax0.0).
	root, err := filepath.EvalSymlinks(sysRoot)
	if err != nil {
		root = sysRoot
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = dir
	}
	for _, c := range strings.Split(filepath.ToSlash(rel), "/") {
		if c == "dax" {
			return true
		}
	}
	return false
}

// readSysfsInt reads a decimal sysfs attribute. found is false when the file
// does not exist; a malformed value is an error.
func readSysfsInt(path string) (v int64, found bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("pmem: read sysfs attribute: %w", err)
	}
	s := strings.TrimSpace(string(b))
	v, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%w: sysfs attribute %s holds %q, not a decimal number", ErrInvalid, path, s)
	}
	return v, true, nil
}
