//go:build !race

package pmem_test

const raceEnabled = false
