//go:build !linux

package vfs

import "os"

// dataSync is fsync where fdatasync is not available.
func dataSync(f *os.File) error { return f.Sync() }

// lockFile does nothing where flock is not wired up: one process per
// directory is then the caller's business.
func lockFile(*os.File) error { return nil }
