//go:build !linux

package harness

func cpuModel() string                   { return "" }
func memTotal() int64                    { return 0 }
func kernelRelease() string              { return "" }
func fsType(dir string) (string, string) { return "", "" }
func freeBytes(dir string) int64         { return -1 }
func loadAverage() float64               { return -1 }
