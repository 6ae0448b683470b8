package cli_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/cli"
	"github.com/marvel-serverless/marvel/internal/testbin"
	"github.com/marvel-serverless/marvel/mapreduce"
)

// childCommands are the marvel commands the demo's stack and its tour run
// as child processes of os.Executable(), which in a test is this test
// binary: init runs them instead of the tests (before TestMain, which is
// cli_test.go's). The invoker gives its runtimes a clean environment, so an
// argument, not a variable, has to say it; no test run starts with one.
var childCommands = map[string]bool{
	"runtime":     true, // the invoker's instances
	"mr-task":     true, // the MapReduce action, run by the runtimes
	"pmem":        true, // the tour's counter and kill -9 writer
	"demo-action": true, // the tour's counter action
}

func init() {
	if len(os.Args) > 1 && childCommands[os.Args[1]] {
		os.Exit(cli.Main(os.Args[1:]))
	}
}

// TestDemo runs `marvel demo --all` in-process on a small corpus: the
// stack's runtimes and tasks and the tour's processes are real child
// processes. It checks the printed top words against a wordcount of the
// same corpus computed here, the job-time ratio, the HDFS read-back, the
// tour's results, and that the demo removed its directories.
func TestDemo(t *testing.T) {
	const size = 4 << 20
	var stdout, stderr testbin.SyncBuffer
	root := cli.NewRootCommand(cli.Env{Stdout: &stdout, Stderr: &stderr})
	root.SetArgs([]string{"demo", "--size", strconv.Itoa(size), "--mappers", "4", "--reducers", "2", "--all", "--kills", "5"})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	out := stdout.String()
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
	t.Logf("marvel demo:\n%s", out)

	// The top words, against a plain wordcount of the same corpus.
	want := referenceWordCount(t, size)
	require.Contains(t, out, fmt.Sprintf("Top 10 words of the corpus (%s distinct;", comma(len(want))))
	section := out[strings.Index(out, "Top 10 words"):]
	section = section[:strings.Index(section, "\n\n")]
	got := regexp.MustCompile(`(?m)^ +(\d+) +(\S+) +([\d,]+)$`).FindAllStringSubmatch(section, -1)
	require.Len(t, got, 10, section)
	for i, w := range topWords(want, 10) {
		n, err := strconv.ParseUint(strings.ReplaceAll(got[i][3], ",", ""), 10, 64)
		require.NoError(t, err)
		require.Equal(t, []string{strconv.Itoa(i + 1), w.word}, got[i][1:3], section)
		require.Equal(t, w.count, n, "count of %q", w.word)
	}

	require.Regexp(t, `(?m)^   ratio disk / pmem = \d+\.\d\dx \(job time with the disk shuffle over job time with the pmem shuffle\)$`, out)
	require.Regexp(t, `(?m)^   job time +\d+\.\d\ds +\d+\.\d\ds +\d+\.\d\dx$`, out)
	require.Regexp(t, `(?m)^   hdfs://127\.0\.0\.1:\d+/guest/out/wordcount-pmem/part-r-00000: .* identical to /.*/fs/guest/out/wordcount-pmem/part-r-00000$`, out)
	require.Contains(t, out, "both jobs wrote the same 2 files")

	// The tour.
	for _, s := range []string{
		"in region fn.guest.counter: 1 → 2 → 3 → 4 → 5",
		"5 kills: all ",
		"acknowledged writes present, no torn value",
		"a function asks for 32 MiB: pmem: out of capacity: asked for 33554432 bytes, 16777216 of 67108864 free",
		"the function got its 32 MiB (pool: 1 reclaimed, 32 MiB of 64 reserved)",
		"three warm activations: count 1 → 2 → 3; cache hit ratio 0.67 (region fn+guest+counter)",
		"the next activation ran in a new one: count 4",
		"a new runtime (a cold start) opened the same region: count 5",
		"a new process per activation p50",
		"the data directory was removed",
	} {
		require.Contains(t, out, s)
	}
	require.Regexp(t, `(?m)^fn\.guest\.counter +emulated `, out)

	// Nothing left behind.
	for _, re := range []string{`(?m)^   data +(\S+) `, `(?m)^   baseline +disk shuffle in (\S+) `} {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		require.NotNil(t, m, "no %s in the output", re)
		_, err := os.Stat(m[1])
		require.ErrorIs(t, err, os.ErrNotExist, "the demo left %s behind", m[1])
	}
}

// TestDemoKeep checks that --data keeps the data directory, with the
// corpus and both outputs readable, and that a second run over it starts
// over.
func TestDemoKeep(t *testing.T) {
	data := t.TempDir()
	for run := range 2 {
		var stdout, stderr testbin.SyncBuffer
		root := cli.NewRootCommand(cli.Env{Stdout: &stdout, Stderr: &stderr})
		root.SetArgs([]string{"demo", "--data", data, "--size", "1MiB", "--mappers", "2", "--reducers", "1"})
		require.NoError(t, root.ExecuteContext(t.Context()), "run %d\nstdout:\n%s\nstderr:\n%s", run, stdout.String(), stderr.String())
		require.Contains(t, stdout.String(), "the data directory stays at "+data)
	}
	for _, p := range []string{"in/corpus.txt", "out/wordcount-pmem/part-r-00000", "out/wordcount-disk/part-r-00000"} {
		_, err := os.Stat(data + "/fs/guest/" + p)
		require.NoError(t, err)
	}
	var corpus bytes.Buffer
	require.NoError(t, mapreduce.GenerateText(&corpus, 1<<20, cli.DemoSeed, cli.DemoVocab))
	b, err := os.ReadFile(data + "/fs/guest/in/corpus.txt")
	require.NoError(t, err)
	require.True(t, bytes.Equal(corpus.Bytes(), b), "the corpus is not GenerateText's")
}

// TestDemoDiskDirOnTmpfs checks that the disk baseline refuses memory.
func TestDemoDiskDirOnTmpfs(t *testing.T) {
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		t.Skip("no /dev/shm")
	}
	var stdout testbin.SyncBuffer
	root := cli.NewRootCommand(cli.Env{Stdout: &stdout})
	root.SetArgs([]string{"demo", "--data", t.TempDir(), "--disk-dir", "/dev/shm", "--size", "1MiB"})
	err := root.ExecuteContext(t.Context())
	require.ErrorContains(t, err, "demo: --disk-dir /dev/shm is on tmpfs, in memory: the disk baseline needs a directory on a disk")
}

type wordCount struct {
	word  string
	count uint64
}

// referenceWordCount counts the words of the demo's corpus of size bytes
// with the standard library: runs of letters, lower-cased.
func referenceWordCount(t *testing.T, size int64) map[string]uint64 {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, mapreduce.GenerateText(&b, size, cli.DemoSeed, cli.DemoVocab))
	counts := map[string]uint64{}
	for _, w := range strings.FieldsFunc(b.String(), func(r rune) bool { return !unicode.IsLetter(r) }) {
		counts[strings.ToLower(w)]++
	}
	return counts
}

// topWords returns the n most frequent words, by count then word.
func topWords(counts map[string]uint64, n int) []wordCount {
	var all []wordCount
	for w, c := range counts {
		all = append(all, wordCount{w, c})
	}
	slices.SortFunc(all, func(a, b wordCount) int {
		return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.word, b.word))
	})
	return all[:min(n, len(all))]
}

// comma formats n with thousands separators.
func comma(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestDemoUsage checks that bad numbers are usage errors, found before
// anything starts.
func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{{"--mappers", "0"}, {"--size", "0"}, {"--vocab", "0"}, {"--reducers", "501"}} {
		var stderr testbin.SyncBuffer
		root := cli.NewRootCommand(cli.Env{Stderr: &stderr})
		root.SetArgs(append([]string{"demo"}, args...))
		err := root.ExecuteContext(t.Context())
		require.Equal(t, cli.ExitUsage, cli.ExitCode(err), "%v: %v", args, err)
		require.Contains(t, stderr.String(), "Usage:\n  marvel demo [flags]")
	}
}
