//go:build !linux

package cli

import "errors"

// mountOf returns the filesystem type and source of the mount holding dir;
// only Linux says.
func mountOf(dir string) (fsType, source string, err error) {
	return "", "", errors.ErrUnsupported
}

// checkRoom checks that dir's filesystem has need bytes available; only
// Linux says, elsewhere it passes.
func checkRoom(dir string, need int64) error { return nil }
