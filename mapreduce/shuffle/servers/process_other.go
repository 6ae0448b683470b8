//go:build !linux

package servers

import (
	"os"
	"syscall"
)

// childAttr: without PR_SET_PDEATHSIG a server outlives a crashed parent.
func childAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

// lockFile does not lock: concurrent builds of MinIO may race.
func lockFile(path string) (unlock func(), err error) { return func() {}, nil }
