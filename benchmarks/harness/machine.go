package harness

import (
	"bytes"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Go          string `json:"go"`
}

// ThisMachine describes the machine this process runs on; what it cannot
// find out it leaves empty.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()}
	m.CPU, m.MemoryBytes, m.Kernel = cpuModel(), memTotal(), kernelRelease()
	return m
}

// Storage says what each store stands on, for the report and the table.
type Storage struct {
	// Data is the stack's data directory and DataFS its file system (the
	// pmem store and the inputs and outputs live there).
	Data   string `json:"data"`
	DataFS string `json:"data_fs"`
	// DataHuge is the data directory's tmpfs huge= option ("always"):
	// transparent huge pages (2 MiB), as a PMEM namespace mapped with 2 MiB
	// alignment gives; "" for 4 KiB pages.
	DataHuge string `json:"data_huge,omitempty"`
	// Scratch holds the disk store and the servers' directories.
	Scratch   string `json:"scratch"`
	ScratchFS string `json:"scratch_fs"`
	// Redis and S3 are the servers' versions, when run.
	Redis string `json:"redis,omitempty"`
	S3    string `json:"s3,omitempty"`
	// Summary is the one line the table starts with, e.g. "PMEM emulated
	// on tmpfs (DRAM); disk = ext4 with fsync".
	Summary string `json:"summary"`
}

// summarize fills s.Summary.
func (s *Storage) summarize(stores []string, latencyNote string) {
	var parts []string
	switch {
	case !slices.Contains(stores, "pmem"):
	case s.DataFS == "tmpfs" && s.DataHuge != "":
		parts = append(parts, "PMEM emulated on tmpfs (DRAM, huge="+s.DataHuge+": 2 MiB pages)")
	case s.DataFS == "tmpfs":
		parts = append(parts, "PMEM emulated on tmpfs (DRAM)")
	default:
		parts = append(parts, "PMEM emulated on "+orUnknown(s.DataFS)+" (not tmpfs: not memory speed)")
	}
	if slices.Contains(stores, "disk") {
		parts = append(parts, "disk = "+orUnknown(s.ScratchFS)+" with fsync")
	}
	if s.Redis != "" {
		parts = append(parts, "redis = "+s.Redis+", no persistence")
	}
	if s.S3 != "" {
		parts = append(parts, "s3 = "+s.S3+" on "+orUnknown(s.ScratchFS))
	}
	if latencyNote != "" {
		parts = append(parts, latencyNote)
	}
	s.Summary = strings.Join(parts, "; ")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown file system"
	}
	return s
}

// version runs bin with args and returns the first line of its output, or
// "" if it fails.
func version(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	return string(line)
}

// redisVersion shortens `redis-server --version` ("Redis server v=7.0.15
// sha=...") to "redis-server 7.0.15".
func redisVersion(line string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return "redis-server " + v
		}
	}
	return "redis-server"
}

// minioVersion shortens `minio --version` ("minio version
// RELEASE.2025-... (commit-id=...)") to "MinIO RELEASE.2025-..."; a build
// from source (DEVELOPMENT.GOGET) is "MinIO (built from source)".
func minioVersion(line string) string {
	f := strings.Fields(line)
	switch {
	case len(f) < 3 || f[1] != "version":
		return "MinIO"
	case f[2] == "DEVELOPMENT.GOGET":
		return "MinIO (built from source)"
	}
	return "MinIO " + f[2]
}
