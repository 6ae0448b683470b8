package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoScript is an ActionLoop script that acknowledges and echoes.
const echoScript = "#!/bin/bash\necho '{\"ok\":true}' >&3\nwhile IFS= read -r line; do echo \"$line\" >&3; done\n"

func newTestServer(t *testing.T, mutate func(*Options)) (*httptest.Server, *Server) {
	t.Helper()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { devnull.Close() })
	opts := DefaultOptions()
	opts.WorkDir = t.TempDir()
	opts.Stdout, opts.Stderr = devnull, devnull
	opts.Env = []string{"PATH=/usr/bin:/bin"}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := New(opts)
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs, srv
}

func postJSON(t *testing.T, url string, v any) (int, string) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

func TestActionCacheSkipsUnpackingOnColdStart(t *testing.T) {
	cache := t.TempDir()
	code := base64.StdEncoding.EncodeToString([]byte(echoScript))
	init := map[string]any{"value": map[string]any{"code": code, "binary": true}}

	hs1, srv1 := newTestServer(t, func(o *Options) { o.ActionCache = cache })
	status, body := postJSON(t, hs1.URL+"/init", init)
	require.Equal(t, http.StatusOK, status, body)
	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the executable was cached")

	hs2, srv2 := newTestServer(t, func(o *Options) { o.ActionCache = cache })
	status, body = postJSON(t, hs2.URL+"/init", init)
	require.Equal(t, http.StatusOK, status, body)
	src, err := filepath.Glob(filepath.Join(srv2.opts.WorkDir, "action-*", "src"))
	require.NoError(t, err)
	require.Empty(t, src, "a cache hit unpacks nothing")
	status, body = postJSON(t, hs2.URL+"/run", map[string]any{"value": map[string]any{"a": 1}})
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"value":{"a":1}}`, body)

	src, err = filepath.Glob(filepath.Join(srv1.opts.WorkDir, "action-*", "src"))
	require.NoError(t, err)
	require.Len(t, src, 1, "the first init unpacked")
}

func TestCrashedProcessIsReplacedAndCounted(t *testing.T) {
	script := "#!/bin/bash\necho '{\"ok\":true}' >&3\nwhile IFS= read -r line; do\n" +
		"case \"$line\" in *crash*) exit 9;; esac\necho '{\"alive\":true}' >&3\ndone\n"
	hs, srv := newTestServer(t, nil)
	status, body := postJSON(t, hs.URL+"/init", map[string]any{"value": map[string]any{"code": script}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = postJSON(t, hs.URL+"/run", map[string]any{"value": map[string]any{"crash": true}})
	require.Equal(t, http.StatusBadGateway, status)
	require.Contains(t, body, "exit status 9")
	status, body = postJSON(t, hs.URL+"/run", map[string]any{"value": map[string]any{}})
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"alive":true}`, body)
	st := srv.Stats()
	require.EqualValues(t, 1, st.Restarts)
	require.EqualValues(t, 2, st.Runs)
	require.EqualValues(t, 1, st.Errors)
	require.True(t, st.Initialized)
}

func TestClosedServerRefusesWith503(t *testing.T) {
	hs, srv := newTestServer(t, nil)
	status, _ := postJSON(t, hs.URL+"/init", map[string]any{"value": map[string]any{"code": echoScript}})
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, srv.Close())
	status, body := postJSON(t, hs.URL+"/run", map[string]any{"value": map[string]any{}})
	require.Equal(t, http.StatusServiceUnavailable, status, body)
}

func TestCloseEndsAnInitInProgress(t *testing.T) {
	// An action that never acknowledges keeps /init waiting (as a long
	// build would); Close must end it rather than wait for the timeout.
	hs, srv := newTestServer(t, func(o *Options) { o.InitTimeout = time.Minute })
	done := make(chan int, 1)
	go func() {
		status, _ := postJSON(t, hs.URL+"/init", map[string]any{"value": map[string]any{"code": "#!/bin/bash\nsleep 60\n"}})
		done <- status
	}()
	require.Eventually(t, func() bool { return srv.initing.Load() }, 10*time.Second, time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case status := <-done:
		require.Equal(t, http.StatusBadGateway, status)
	case <-time.After(10 * time.Second):
		t.Fatal("/init still waiting 10 s after Close")
	}
	require.NoError(t, <-closed)
}

func TestNoRegionGivesFilesButNoState(t *testing.T) {
	// The script answers with the environment the proxy gave it.
	script := "#!/bin/bash\necho '{\"ok\":true}' >&3\nwhile IFS= read -r line; do\n" +
		"printf '{\"files\":\"%s\",\"region\":\"%s\",\"fd\":\"%s\"}\\n' \"$MARVEL_FILES_DIR\" \"$MARVEL_REGION\" \"$MARVEL_REGION_FD\" >&3\ndone\n"
	data := t.TempDir()
	env := map[string]any{"__OW_NAMESPACE": "guest", "__OW_ACTION_NAME": "/guest/mapper"}
	init := map[string]any{"value": map[string]any{"code": script, "env": env}}
	run := map[string]any{"value": map[string]any{}, "namespace": "guest", "action_name": "/guest/mapper"}

	// Two runtimes of one action at once: neither holds a region.
	var bodies []string
	for range 2 {
		hs, _ := newTestServer(t, func(o *Options) { o.Data, o.NoRegion = data, true })
		status, body := postJSON(t, hs.URL+"/init", init)
		require.Equal(t, http.StatusOK, status, body)
		status, body = postJSON(t, hs.URL+"/run", run)
		require.Equal(t, http.StatusOK, status, body)
		bodies = append(bodies, body)
	}
	want := `{"files":"` + filepath.Join(data, "fs", "guest") + `","region":"","fd":""}`
	for _, b := range bodies {
		require.JSONEq(t, want, b)
	}
	require.DirExists(t, filepath.Join(data, "fs", "guest"))
	regions, err := filepath.Glob(filepath.Join(data, "*.region"))
	require.NoError(t, err)
	require.Empty(t, regions, "no region is created")
}
