package cli

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
)

// TestDemoProgress feeds a job's events to the progress display off a
// terminal: one line per stage when it ends, and a line per failed attempt.
func TestDemoProgress(t *testing.T) {
	var b strings.Builder
	p := newDemoProgress(&b, false, 3, 2)
	for _, e := range []driver.Event{
		{Phase: mapreduce.PhaseMap, Task: 1, Attempt: 1, Done: 1, Total: 3},
		{Phase: mapreduce.PhaseMap, Task: 0, Attempt: 1, Err: errors.New("boom"), Done: 1, Total: 3, Retrying: true},
		{Phase: mapreduce.PhaseMap, Task: 0, Attempt: 2, Done: 2, Total: 3},
		{Phase: mapreduce.PhaseMap, Task: 2, Attempt: 1, Done: 3, Total: 3},
		{Phase: mapreduce.PhaseReduce, Task: 0, Attempt: 1, Done: 1, Total: 2},
		{Phase: mapreduce.PhaseReduce, Task: 1, Attempt: 1, Done: 2, Total: 2},
	} {
		p.event(e)
	}
	p.stop()
	p.event(driver.Event{Phase: mapreduce.PhaseReduce, Done: 2, Total: 2}) // after stop: ignored
	got := regexp.MustCompile(` +\d+\.\ds\n`).ReplaceAllString(b.String(), " T\n")
	require.Equal(t, "   map task 0 attempt 1 failed: boom; retrying\n"+
		"   map    [##############################] 3/3 tasks T\n"+
		"   reduce [##############################] 2/2 tasks T\n", got)
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/mnt/a\040b`: "/mnt/a b",
		`/plain`:      "/plain",
		`/x\134y`:     `/x\y`,
		`/cut\04`:     `/cut\04`,
		`/bad\999`:    `/bad\999`,
	} {
		require.Equal(t, want, unescapeMount(in), in)
	}
	require.True(t, within("/var/tmp/x", "/var"))
	require.True(t, within("/var", "/var"))
	require.False(t, within("/variable", "/var"))
	require.True(t, within("/anything", "/"))
}

func TestMountOf(t *testing.T) {
	fsType, source, err := mountOf("/")
	require.NoError(t, err)
	require.NotEmpty(t, fsType)
	require.NotEmpty(t, source)
	if fsType, _, err := mountOf("/dev/shm"); err == nil {
		require.Equal(t, "tmpfs", fsType)
	}
}
