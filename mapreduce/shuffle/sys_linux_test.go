package shuffle_test

import (
	"golang.org/x/sys/unix"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// fsName names the filesystem type of dir, for benchmark names.
func fsName(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	}
	return "other"
}

// tooLargeValue returns a value one byte over the bound without allocating
// it: a read-only anonymous mapping that is never touched (a Go allocation
// of 1 GiB would cost seconds of race-detector shadow memory).
func tooLargeValue() []byte {
	b, err := unix.Mmap(-1, 0, shuffle.MaxValueSize+1, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return make([]byte, shuffle.MaxValueSize+1)
	}
	return b
}
