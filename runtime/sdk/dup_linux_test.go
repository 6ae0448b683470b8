package sdk

import (
	"os"

	"golang.org/x/sys/unix"
)

// dupTo duplicates f's descriptor to a new number the test owns, as a
// runtime hands one to an action.
func dupTo(f *os.File) (int, error) { return unix.Dup(int(f.Fd())) }
