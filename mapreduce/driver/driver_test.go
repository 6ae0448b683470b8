package driver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/mrref"
	"github.com/marvel-serverless/marvel/internal/testbin"
	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle/servers"
)

const guestKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

var marvelBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, &marvelBin, false))
}

// stack is a marvel standalone child and a client of it.
type stack struct {
	data  string
	files string
	c     *client.Client
}

func startStack(t *testing.T) *stack {
	t.Helper()
	data := t.TempDir()
	cmd := exec.Command(marvelBin, "standalone", "--data", data, "--api", "127.0.0.1:0", "--hdfs", "-",
		"--pmem", "emulated", "--isolate", "false", "--memory", "8192")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(t.TempDir(), "standalone.log"))
	require.NoError(t, err)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stderr, cmd.Stdout = pw, logf
	require.NoError(t, cmd.Start())
	pw.Close()
	host := ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		if f := strings.Fields(line); len(f) == 3 && f[0] == "API" {
			host = f[2]
		}
		if strings.HasPrefix(line, "listening on") {
			break
		}
	}
	go func() { // keep draining its logs
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("standalone log:\n%s", b)
		}
	})
	require.NotEmpty(t, host, "standalone did not print its API host")
	c, err := client.New(client.Config{APIHost: host, Auth: guestKey})
	require.NoError(t, err)
	s := &stack{data: data, files: filepath.Join(data, "fs", "guest"), c: c}
	code := "#!/bin/sh\nexec '" + marvelBin + "' mr-task\n"
	require.NoError(t, driver.Deploy(t.Context(), c, "mr", whisk.Exec{Kind: "native", Code: &code}, 4, 256, time.Minute))
	return s
}

// write puts an input file into the namespace.
func (s *stack) write(t *testing.T, rel string, gen func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, gen(&b))
	p := filepath.Join(s.files, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b.Bytes(), 0o644))
	return b.Bytes()
}

// output concatenates a job's part files in order.
func (s *stack) output(t *testing.T, res driver.Result) []byte {
	t.Helper()
	var out []byte
	for _, o := range res.Outputs {
		b, err := os.ReadFile(filepath.Join(s.files, o))
		require.NoError(t, err)
		out = append(out, b...)
	}
	return out
}

// The references are computed independently of package mapreduce.
var (
	refWordCount = mrref.WordCount
	refGrep      = mrref.Grep
	refSort      = mrref.Sort
	lines        = mrref.Lines
)

// stores are the shuffle stores the tests run on; redis and s3 need their
// servers (installed by the test command; skipped elsewhere unless
// MARVEL_REQUIRE_SERVERS=1).
func stores(t *testing.T, s *stack) map[string]shuffle.Config {
	out := map[string]shuffle.Config{
		"pmem": {Kind: "pmem", Dir: filepath.Join(s.files, ".shuffle"), Mode: "emulated"},
		"disk": {Kind: "disk", Dir: t.TempDir()},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if r, err := servers.StartRedis(ctx, t.TempDir()); err == nil {
		t.Cleanup(func() { r.Close() })
		out["redis"] = r.Config()
	} else if os.Getenv("MARVEL_REQUIRE_SERVERS") == "1" {
		t.Fatalf("redis: %v", err)
	} else {
		t.Logf("redis store not tested: %v", err)
	}
	if s3, err := servers.StartS3(ctx, t.TempDir()); err == nil {
		t.Cleanup(func() { s3.Close() })
		out["s3"] = s3.Config()
	} else if os.Getenv("MARVEL_REQUIRE_SERVERS") == "1" {
		t.Fatalf("s3: %v", err)
	} else {
		t.Logf("s3 store not tested: %v", err)
	}
	return out
}

// TestWorkloadsOnEveryStore runs wordcount, grep and sort on small inputs
// with every shuffle store and checks them against results computed
// independently here; the outputs are byte-identical across stores.
func TestWorkloadsOnEveryStore(t *testing.T) {
	s := startStack(t)
	text := s.write(t, "in/text.txt", func(b *bytes.Buffer) error { return mapreduce.GenerateText(b, 2<<20, 7, 3000) })
	recs := s.write(t, "in/recs", func(b *bytes.Buffer) error { return mapreduce.GenerateRecords(b, 20000, 7) })
	const pattern = `\b[a-z]*q[a-z]*\b`
	grepArgs, _ := json.Marshal(mapreduce.GrepArgs{Pattern: pattern})

	outputs := map[string]map[string][]byte{}
	for name, sc := range stores(t, s) {
		env := driver.Env{Client: s.c, FilesDir: s.files, Action: "mr"}
		for _, w := range []struct {
			workload, input string
			args            json.RawMessage
			maps, reds      int
		}{
			{mapreduce.WordCount, "in/text.txt", nil, 5, 3},
			{mapreduce.Grep, "in/text.txt", grepArgs, 3, 2},
			{mapreduce.Sort, "in/recs", nil, 4, 3},
		} {
			job := driver.Job{Workload: w.workload, Input: w.input, Output: "out/" + name + "/" + w.workload,
				Mappers: w.maps, Reducers: w.reds, Shuffle: sc, Args: w.args, TaskTimeout: time.Minute}
			res, err := driver.Run(t.Context(), env, job)
			require.NoError(t, err, "%s on %s", w.workload, name)
			require.Len(t, res.Outputs, w.reds)
			require.Zero(t, res.Retries)
			require.Positive(t, res.BytesShuffled)
			require.Positive(t, res.GBSeconds)
			got := s.output(t, res)
			switch w.workload {
			case mapreduce.WordCount:
				require.Equal(t, refWordCount(text), lines(got), "wordcount on %s", name)
			case mapreduce.Grep:
				require.Equal(t, refGrep(text, pattern), lines(got), "grep on %s", name)
			case mapreduce.Sort:
				require.Equal(t, refSort(recs), got, "sort on %s: globally ordered, every record once", name)
			}
			if outputs[w.workload] == nil {
				outputs[w.workload] = map[string][]byte{}
			}
			outputs[w.workload][name] = got
			// The job's shuffle data is gone.
			st, err := shuffle.Open(t.Context(), sc)
			require.NoError(t, err)
			_, err = st.Get(t.Context(), mapreduce.ShuffleKey(res.Job, 0, 1, 0))
			require.ErrorIs(t, err, shuffle.ErrNotFound, "%s left its shuffle data in %s", res.Job, name)
			st.Close()
		}
	}
	for w, byStore := range outputs {
		var first []byte
		for name, b := range byStore {
			if first == nil {
				first = b
			}
			require.True(t, bytes.Equal(first, b), "%s output on %s differs", w, name)
		}
	}
}

// TestKilledTasksAreRetried: a map task whose process exits mid-task and a
// reduce task that fails are retried under new attempts, and the output is
// still exactly right, committed once.
func TestKilledTasksAreRetried(t *testing.T) {
	s := startStack(t)
	text := s.write(t, "in/text.txt", func(b *bytes.Buffer) error { return mapreduce.GenerateText(b, 1<<20, 3, 2000) })
	var events []driver.Event
	env := driver.Env{Client: s.c, FilesDir: s.files, Action: "mr", Progress: func(e driver.Event) { events = append(events, e) }}
	job := driver.Job{Workload: mapreduce.WordCount, Input: "in/text.txt", Output: "out/retried", Mappers: 4, Reducers: 2,
		Shuffle: shuffle.Config{Kind: "pmem", Dir: filepath.Join(s.files, ".shuffle"), Mode: "emulated"}, TaskTimeout: time.Minute,
		Fail: map[string]*mapreduce.Fail{
			"map/1":    {Attempt: 1, How: mapreduce.FailExit},
			"reduce/0": {Attempt: 1, How: mapreduce.FailError},
		}}
	res, err := driver.Run(t.Context(), env, job)
	require.NoError(t, err)
	require.Equal(t, 2, res.Retries)
	require.Equal(t, refWordCount(text), lines(s.output(t, res)))
	failed := 0
	for _, e := range events {
		if e.Err != nil {
			failed++
			require.True(t, e.Retrying)
		}
	}
	require.Equal(t, 2, failed)
	ents, err := os.ReadDir(filepath.Join(s.files, "out/retried"))
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"part-r-00000", "part-r-00001"}, names, "one committed file per reducer, no temporaries")

	// A task that fails every attempt fails the job, saying which and why.
	bad, _ := json.Marshal(mapreduce.GrepArgs{Pattern: "("})
	job = driver.Job{Workload: mapreduce.Grep, Input: "in/text.txt", Output: "out/failed", Mappers: 2, Reducers: 1,
		Shuffle: job.Shuffle, Args: bad, MaxAttempts: 2, TaskTimeout: time.Minute}
	_, err = driver.Run(t.Context(), env, job)
	require.ErrorContains(t, err, "not retried")
	require.ErrorContains(t, err, "missing closing )")
	_, err = os.Stat(filepath.Join(s.files, "out/failed/part-r-00000"))
	require.ErrorIs(t, err, os.ErrNotExist, "a failed job commits nothing")
}

// TestLostMapOutputIsRerun loses map outputs between the stages, as a
// crashed node or a damaged file would: map 2's partitions are deleted and
// one of map 0's is overwritten with garbage. The reducers report the
// inputs they cannot read, the driver reruns those two maps (once each,
// though both reducers lose map 2) and the job's output is still right.
func TestLostMapOutputIsRerun(t *testing.T) {
	s := startStack(t)
	text := s.write(t, "in/text.txt", func(b *bytes.Buffer) error { return mapreduce.GenerateText(b, 1<<20, 5, 2000) })
	sc := shuffle.Config{Kind: "pmem", Dir: filepath.Join(s.files, ".shuffle"), Mode: "emulated"}
	store, err := shuffle.Open(t.Context(), sc)
	require.NoError(t, err)
	defer store.Close()
	const name = "lost-maps"
	var damage error
	env := driver.Env{Client: s.c, FilesDir: s.files, Action: "mr", Progress: func(e driver.Event) {
		if e.Phase != mapreduce.PhaseMap || e.Err != nil || e.Done != e.Total {
			return
		}
		ctx := t.Context()
		damage = errors.Join(
			store.DeletePrefix(ctx, mapreduce.MapAttemptPrefix(name, 2, 1)),
			store.Put(ctx, mapreduce.ShuffleKey(name, 0, 1, 1), []byte("not a partition")))
	}}
	job := driver.Job{Name: name, Workload: mapreduce.WordCount, Input: "in/text.txt", Output: "out/lost", Mappers: 4, Reducers: 2,
		Shuffle: sc, TaskTimeout: time.Minute, MaxAttempts: 4}
	res, err := driver.Run(t.Context(), env, job)
	require.NoError(t, damage)
	require.NoError(t, err)
	require.Equal(t, 2, res.MapReruns, "map 2 and map 0 ran again, once each")
	require.GreaterOrEqual(t, res.Retries, 2, "both reducers failed at least once")
	require.Equal(t, refWordCount(text), lines(s.output(t, res)))
}

// TestUnansweredAttemptIsCleanedAfter: when an attempt's invoke gets no
// answer (here the API is not there at all; in the chaos test, standalone
// is killed under it), the attempt may be running on a server that went
// away and keep writing for a moment. A straggler that writes the job's
// shuffle data after the job failed is cleaned up by the second pass of
// the job's cleanup, before Run returns.
func TestUnansweredAttemptIsCleanedAfter(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: every invoke is refused
	c, err := client.New(client.Config{APIHost: "http://" + dead, Auth: guestKey})
	require.NoError(t, err)
	files := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(files, "in"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(files, "in", "text.txt"), []byte("a b c\n"), 0o644))
	sc := shuffle.Config{Kind: "pmem", Dir: filepath.Join(files, ".shuffle"), Mode: "emulated"}
	store, err := shuffle.Open(t.Context(), sc)
	require.NoError(t, err)
	defer store.Close()

	const name = "unanswered"
	late := mapreduce.ShuffleKey(name, 0, 1, 0)
	straggler := make(chan error, 1)
	env := driver.Env{Client: c, FilesDir: files, Action: "mr", Progress: func(e driver.Event) {
		if e.Err != nil && !e.Retrying {
			go func() { // a task process that outlives the API for a moment
				time.Sleep(300 * time.Millisecond)
				straggler <- store.Put(context.Background(), late, []byte("written after the job failed"))
			}()
		}
	}}
	job := driver.Job{Name: name, Workload: mapreduce.WordCount, Input: "in/text.txt", Output: "out", Mappers: 1, Reducers: 1,
		Shuffle: sc, TaskTimeout: time.Minute}
	_, err = driver.Run(t.Context(), env, job)
	require.ErrorContains(t, err, "connection refused")
	require.NoError(t, <-straggler)
	_, err = store.Get(t.Context(), late)
	require.ErrorIs(t, err, shuffle.ErrNotFound, "the straggler's shuffle data outlived the job")
}
