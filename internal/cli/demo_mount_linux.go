package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dustin/go-humanize"
)

// mountOf returns the filesystem type and source (device) of the mount
// holding dir, from /proc/self/mountinfo: the mount whose mount point is
// the longest prefix of dir's real path.
func mountOf(dir string) (fsType, source string, err error) {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return "", "", err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	best := -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+2 >= len(fields) {
			continue
		}
		mp := unescapeMount(fields[4])
		if !within(real, mp) || len(mp) < best {
			continue
		}
		best, fsType, source = len(mp), fields[sep+1], unescapeMount(fields[sep+2])
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	if best < 0 {
		return "", "", fmt.Errorf("no mount holds %s", real)
	}
	return fsType, source, nil
}

// within reports whether path is mount point mp or below it.
func within(path, mp string) bool {
	return mp == "/" || path == mp || strings.HasPrefix(path, mp+"/")
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkRoom checks that the filesystem of dir has need bytes available.
func checkRoom(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("demo: statfs %s: %w", dir, err)
	}
	if avail := int64(st.Bavail) * st.Bsize; avail < need {
		return fmt.Errorf("demo: %s has %s available, the demo needs about %s: give a smaller --size, or a --data directory with more room",
			dir, humanize.IBytes(uint64(avail)), humanize.IBytes(uint64(need)))
	}
	return nil
}
