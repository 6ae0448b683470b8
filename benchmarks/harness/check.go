package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/marvel-serverless/marvel/mapreduce"
)

// Output identifies one run's output: the SHA-256 of its part files
// concatenated in part order, and its length.
type Output struct {
	Workload string `json:"workload"`
	Store    string `json:"store"`
	Repeat   int    `json:"repeat"`
	SHA256   string `json:"sha256"`
	Bytes    int64  `json:"bytes"`
}

func (o Output) String() string {
	return fmt.Sprintf("%s on %s (repeat %d): %d bytes, sha256 %s", o.Workload, o.Store, o.Repeat, o.Bytes, o.SHA256)
}

// CompareOutputs returns nil if got is byte for byte ref's output (same
// length and SHA-256), else an error wrapping ErrOutputMismatch that names
// both runs.
func CompareOutputs(ref, got Output) error {
	if ref.Workload != got.Workload {
		return fmt.Errorf("%w: compared outputs of different workloads: %s and %s", ErrOutputMismatch, got, ref)
	}
	if ref.SHA256 == got.SHA256 && ref.Bytes == got.Bytes {
		return nil
	}
	return fmt.Errorf("%w: %s differs from %s", ErrOutputMismatch, got, ref)
}

// readOutput reads a job's part files (relative to files, in part order)
// and returns their digest. For sort (in non-nil: the input's summary) it
// also checks, as TeraValidate does, that the records are globally ordered
// and are the input's, failing with an error wrapping ErrOutputMismatch and
// mapreduce.ErrNotSorted.
func readOutput(files string, parts []string, in *mapreduce.RecordsSummary) (sum string, n int64, err error) {
	h := sha256.New()
	var readers []io.Reader
	for _, p := range parts {
		f, err := os.Open(filepath.Join(files, filepath.FromSlash(p)))
		if err != nil {
			return "", 0, fmt.Errorf("harness: read output: %w", err)
		}
		defer f.Close()
		readers = append(readers, &countingTee{r: f, h: h, n: &n})
	}
	if in == nil {
		for _, r := range readers {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return "", 0, fmt.Errorf("harness: read output: %w", err)
			}
		}
		return hex.EncodeToString(h.Sum(nil)), n, nil
	}
	out, err := mapreduce.ValidateSorted(readers...)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %w", ErrOutputMismatch, err)
	}
	switch {
	case out.Records != in.Records:
		return "", 0, fmt.Errorf("%w: %w: %d records in the output, %d in the input", ErrOutputMismatch, mapreduce.ErrNotSorted, out.Records, in.Records)
	case out.Checksum != in.Checksum:
		return "", 0, fmt.Errorf("%w: %w: output checksum %x, input's %x (a record is missing, duplicated or altered)", ErrOutputMismatch, mapreduce.ErrNotSorted, out.Checksum, in.Checksum)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// countingTee hashes and counts what is read through it.
type countingTee struct {
	r io.Reader
	h hash.Hash
	n *int64
}

func (t *countingTee) Read(b []byte) (int, error) {
	k, err := t.r.Read(b)
	t.h.Write(b[:k])
	*t.n += int64(k)
	return k, err
}
