package pmem

import "fmt"

// Mode says how a region is mapped, and so which persistence primitive makes
// its bytes durable.
type Mode int

const (
	// ModeAuto asks Open/Create to detect the mode: devdax for a /dev/daxX.Y
	// character device, then fsdax if MAP_SYNC is accepted, else emulated.
	ModeAuto Mode = iota
	// ModeDevDax maps a device-DAX character device whole. Persistence is a
	// cache-line write-back (CLWB/CLFLUSHOPT/CLFLUSH) plus SFENCE.
	ModeDevDax
	// ModeFSDax maps a file on a DAX-mounted filesystem with
	// MAP_SHARED_VALIDATE|MAP_SYNC. Persistence is as for devdax.
	ModeFSDax
	// ModeEmulated maps a regular file with MAP_SHARED. On a disk filesystem
	// persistence is msync(MS_SYNC) of the touched pages; on tmpfs it is a
	// store fence (the page cache survives a process crash, not a reboot).
	ModeEmulated
	// ModeSimulated is an in-memory medium used by tests (pmemtest).
	ModeSimulated
)

var modeNames = [...]string{"auto", "devdax", "fsdax", "emulated", "simulated"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// IsDAX reports whether the mode maps persistent memory directly.
func (m Mode) IsDAX() bool { return m == ModeDevDax || m == ModeFSDax }

// ParseMode parses the --pmem flag values auto, devdax, fsdax and emulated.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames[:ModeSimulated] {
		if s == n {
			return Mode(i), nil
		}
	}
	return ModeAuto, fmt.Errorf("pmem: unknown mode %q: want auto, devdax, fsdax or emulated", s)
}
