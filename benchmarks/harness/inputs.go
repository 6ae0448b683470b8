package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dustin/go-humanize"

	"github.com/marvel-serverless/marvel/mapreduce"
)

// Where the inputs and outputs live, relative to the namespace's files.
const (
	textInput   = "bench/in/text.txt"
	sortInput   = "bench/in/records"
	warmupInput = "bench/in/warmup.txt"
	outputRoot  = "bench/out"
)

// genParams say what an input file holds; a file generated with the same
// parameters is reused (a kept --data directory).
type genParams struct {
	Kind  string `json:"kind"` // "text" or "records"
	Size  int64  `json:"size"`
	Seed  int64  `json:"seed"`
	Vocab int    `json:"vocab,omitempty"`
}

// generate writes the input rel under files as params say, unless a file
// generated with the same parameters is there already. It reports the
// bytes written to p.
func generate(ctx context.Context, files, rel string, params genParams, p Progress) error {
	path := filepath.Join(files, filepath.FromSlash(rel))
	marker := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".params")
	want, _ := json.Marshal(params)
	if got, err := os.ReadFile(marker); err == nil && string(got) == string(want) {
		if fi, err := os.Stat(path); err == nil && fi.Size() == params.Size {
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("harness: input %s: %w", rel, err)
	}
	os.Remove(marker)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gen-*")
	if err != nil {
		return fmt.Errorf("harness: input %s: %w", rel, err)
	}
	defer os.Remove(tmp.Name())
	p.Begin(fmt.Sprintf("generate %s of %s (seed %d)", humanize.IBytes(uint64(params.Size)), params.Kind, params.Seed), params.Size, true)
	bw := bufio.NewWriterSize(&progressWriter{ctx: ctx, w: tmp, p: p}, 1<<20)
	switch params.Kind {
	case "text":
		err = mapreduce.GenerateText(bw, params.Size, params.Seed, params.Vocab)
	default:
		err = mapreduce.GenerateRecords(bw, params.Size/mapreduce.RecordSize, params.Seed)
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = os.WriteFile(marker, want, 0o644)
	}
	if err != nil {
		p.End("failed")
		return fmt.Errorf("harness: generate %s: %w", rel, err)
	}
	p.End("done")
	return nil
}

// summarize reads the sort input rel for the record count and checksum
// every sort output must have.
func summarize(ctx context.Context, files, rel string, p Progress) (mapreduce.RecordsSummary, error) {
	f, err := os.Open(filepath.Join(files, filepath.FromSlash(rel)))
	if err != nil {
		return mapreduce.RecordsSummary{}, fmt.Errorf("harness: summarize %s: %w", rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return mapreduce.RecordsSummary{}, fmt.Errorf("harness: summarize %s: %w", rel, err)
	}
	p.Begin("checksum the sort input", fi.Size(), true)
	s, err := mapreduce.SummarizeRecords(&progressReader{ctx: ctx, r: f, p: p})
	if err != nil {
		p.End("failed")
		return s, fmt.Errorf("harness: summarize %s: %w", rel, err)
	}
	p.End(fmt.Sprintf("%d records, checksum %x", s.Records, s.Checksum))
	return s, nil
}

// progressWriter counts what it writes to p and stops when ctx is done.
type progressWriter struct {
	ctx context.Context
	w   io.Writer
	p   Progress
}

func (w *progressWriter) Write(b []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.w.Write(b)
	w.p.Add(int64(n))
	return n, err
}

// progressReader counts what it reads to p and stops when ctx is done.
type progressReader struct {
	ctx context.Context
	r   io.Reader
	p   Progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(b)
	r.p.Add(int64(n))
	return n, err
}
