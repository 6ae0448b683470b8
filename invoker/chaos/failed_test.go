package chaos

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// TestFailedJobLeavesNothing fails a job while other tasks of its stage
// are still running (map 0's only attempt fails as soon as it wrote part
// of its output; maps 1 to 3 are mid-way): once every activation ended,
// nothing of the job is left, neither shuffle data nor temporaries, and
// no output is committed. The driver must not abandon the attempts in
// flight to the server and clean up before they end.
func TestFailedJobLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: not in -short")
	}
	s := newStack(t)
	ctx := t.Context()
	code := "#!/bin/sh\nexec '" + marvelBin + "' mr-task\n"
	if err := driver.Deploy(ctx, s.c, "mr", whisk.Exec{Kind: "native", Code: &code}, mappers, 256, taskTimeout); err != nil {
		t.Fatal(err)
	}
	writeInput(t, s, "in/text.txt", func(b *bytes.Buffer) error { return mapreduce.GenerateText(b, textSize, 11, textVocab) })
	h := &harness{t: t, s: s, ids: map[string]string{}, diskDir: t.TempDir()}
	env := driver.Env{Client: s.c, FilesDir: s.files, Action: "mr"}
	sc := shuffle.Config{Kind: "pmem", Dir: filepath.Join(s.files, ".shuffle"), Mode: "emulated"}
	for i := range 3 {
		name := "failing-" + string(rune('a'+i))
		job := driver.Job{Name: name, Workload: mapreduce.WordCount, Input: "in/text.txt", Output: "out/" + name,
			Mappers: mappers, Reducers: reducers, Shuffle: sc, TaskTimeout: taskTimeout, MaxAttempts: 1,
			Fail: map[string]*mapreduce.Fail{"map/0": {Attempt: 1, How: mapreduce.FailError}}}
		start := time.Now()
		_, err := driver.Run(ctx, env, job)
		if err == nil {
			t.Fatalf("job %s succeeded with a failing map task", name)
		}
		t.Logf("job %s failed in %v: %v", name, time.Since(start).Round(time.Millisecond), err)
		if err := s.waitIdle(time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(s.files, ".shuffle", name)); !errors.Is(err, fs.ErrNotExist) {
			left, _ := filesUnder(filepath.Join(s.files, ".shuffle", name))
			t.Errorf("failed job %s left shuffle data once its tasks ended: %v", name, left)
		}
		if left, _ := filesUnder(filepath.Join(s.files, "out", name)); len(left) > 0 {
			t.Errorf("failed job %s left files in its output once its tasks ended: %v", name, left)
		}
		h.checkNamespace()
	}
}
