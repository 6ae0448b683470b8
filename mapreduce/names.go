package mapreduce

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ShuffleKey is the key under which attempt attempt of map task mapTask of
// job writes the partition of reducer reducer:
//
//	JOB/mTTTTT-aA/rRRRRR      e.g. wc-1a2b/m00003-a1/r00002
func ShuffleKey(job string, mapTask, attempt, reducer int) string {
	return fmt.Sprintf("%s/m%05d-a%d/r%05d", job, mapTask, attempt, reducer)
}

// MapAttemptPrefix is the prefix of every key a map attempt writes, for
// shuffle.Store.DeletePrefix (the trailing slash keeps attempt 1 from
// matching attempt 10).
func MapAttemptPrefix(job string, mapTask, attempt int) string {
	return fmt.Sprintf("%s/m%05d-a%d/", job, mapTask, attempt)
}

// JobPrefix is the prefix of every shuffle key of job.
func JobPrefix(job string) string { return job + "/" }

// TempOutput is where attempt attempt of reduce task reducer writes its
// output under the job's output directory dir (relative to the files
// directory), as Hadoop's FileOutputCommitter does:
//
//	DIR/_temporary/rRRRRR-aA/part-r-RRRRR
func TempOutput(dir string, reducer, attempt int) string {
	return fmt.Sprintf("%s/_temporary/r%05d-a%d/%s", dir, reducer, attempt, PartName(reducer))
}

// FinalOutput is where the driver commits reduce task reducer's output:
// DIR/part-r-RRRRR.
func FinalOutput(dir string, reducer int) string {
	return dir + "/" + PartName(reducer)
}

// PartName is the file name of reducer's output, part-r-RRRRR.
func PartName(reducer int) string { return fmt.Sprintf("part-r-%05d", reducer) }

// CommitOutput publishes a reduce attempt's output: it renames temp to
// final (both relative to the files directory root, such as TempOutput and
// FinalOutput give), creating final's directory, and syncs the directory
// so the rename survives a crash. Committing again after a success is a
// no-op: a missing temp with final present is taken as done.
func CommitOutput(root, temp, final string) error {
	if err := checkPath("temporary output", temp); err != nil {
		return err
	}
	if err := checkPath("final output", final); err != nil {
		return err
	}
	src := filepath.Join(root, filepath.FromSlash(temp))
	dst := filepath.Join(root, filepath.FromSlash(final))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("mapreduce: commit %s: %w", final, err)
	}
	if err := os.Rename(src, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(dst); serr == nil {
				return nil
			}
		}
		return fmt.Errorf("mapreduce: commit %s as %s: %w", temp, final, err)
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return fmt.Errorf("mapreduce: commit %s: sync directory: %w", final, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("mapreduce: commit %s: sync directory: %w", final, err)
	}
	return nil
}
