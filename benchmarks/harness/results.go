package harness

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Files WriteResults writes in its directory.
const (
	ResultsJSON = "results.json"
	ResultsCSV  = "results.csv"
)

// CSVHeader is the first row of results.csv; every other row is one run.
// Times are in seconds.
var CSVHeader = []string{
	"seq", "repeat", "workload", "store", "job", "started", "maps", "reduces", "retries",
	"job_s", "map_stage_s", "reduce_stage_s", "shuffle_write_s", "shuffle_read_s", "map_compute_s", "reduce_compute_s", "task_s",
	"bytes_in", "bytes_shuffled", "bytes_out", "records_out", "gb_seconds", "output_sha256",
}

// WriteResults writes r to dir (created if missing) as results.json, the
// whole report, and results.csv, one row per run. Each file is written to
// a temporary name and renamed, so a reader never sees half of one.
func WriteResults(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("harness: results directory: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("harness: encode results: %w", err)
	}
	if err := writeFile(filepath.Join(dir, ResultsJSON), append(b, '\n')); err != nil {
		return err
	}
	rows := [][]string{CSVHeader}
	for _, x := range r.Runs {
		rows = append(rows, []string{
			strconv.Itoa(x.Seq), strconv.Itoa(x.Repeat), x.Workload, x.Store, x.Job, x.Started.UTC().Format(time.RFC3339Nano),
			strconv.Itoa(x.Maps), strconv.Itoa(x.Reduces), strconv.Itoa(x.Retries),
			csvSecs(x.Total), csvSecs(x.MapStage), csvSecs(x.ReduceStage), csvSecs(x.ShuffleWrite), csvSecs(x.ShuffleRead),
			csvSecs(x.MapCompute), csvSecs(x.ReduceCompute), csvSecs(x.TaskTime),
			strconv.FormatInt(x.BytesIn, 10), strconv.FormatInt(x.BytesShuffled, 10), strconv.FormatInt(x.BytesOut, 10),
			strconv.FormatInt(x.RecordsOut, 10), strconv.FormatFloat(x.GBSeconds, 'f', 3, 64), x.OutputSHA256,
		})
	}
	path := filepath.Join(dir, ResultsCSV)
	return writeWith(path, func(f *os.File) error {
		w := csv.NewWriter(f)
		w.WriteAll(rows)
		return w.Error()
	})
}

// ReadResults reads the results.json of dir.
func ReadResults(dir string) (*Report, error) {
	b, err := os.ReadFile(filepath.Join(dir, ResultsJSON))
	if err != nil {
		return nil, fmt.Errorf("harness: read results: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("harness: decode %s: %w", filepath.Join(dir, ResultsJSON), err)
	}
	return &r, nil
}

func csvSecs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) }

func writeFile(path string, b []byte) error {
	return writeWith(path, func(f *os.File) error { _, err := f.Write(b); return err })
}

// writeWith writes path through fill, to a temporary file renamed into
// place.
func writeWith(path string, fill func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("harness: write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("harness: write %s: %w", path, err)
	}
	return nil
}
