package cli_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/cli"
	"github.com/marvel-serverless/marvel/internal/testbin"
)

// TestCLIRuntimeToken runs `marvel runtime --token-file` in-process: a
// request without the file's token is 403, one with it is served; the
// file wins over MARVEL_RUNTIME_TOKEN.
func TestCLIRuntimeToken(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokFile, []byte("from-the-file\n"), 0o600))
	var stderr testbin.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	root := cli.NewRootCommand(cli.Env{Stdout: io.Discard, Stderr: &stderr, Getenv: func(k string) string {
		if k == "MARVEL_RUNTIME_TOKEN" {
			return "from-the-environment"
		}
		return ""
	}})
	root.SetArgs([]string{"runtime", "--data=", "--listen", "127.0.0.1:0", "--token-file", tokFile})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	re := regexp.MustCompile(`listening on (\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	var addr string
	for addr == "" {
		select {
		case err := <-done:
			t.Fatalf("marvel runtime stopped early: %v\n%s", err, stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no \"listening on\" within 20 s:\n%s", stderr.String())
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else {
			time.Sleep(10 * time.Millisecond) // polling its output
		}
	}
	post := func(auth string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/run", strings.NewReader(`{"value":{}}`))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := post("")
	require.Equal(t, http.StatusForbidden, status, body)
	status, body = post("Bearer from-the-environment")
	require.Equal(t, http.StatusForbidden, status, "the file wins: %s", body)
	status, body = post("Bearer from-the-file")
	require.Equal(t, http.StatusInternalServerError, status, "served (no action yet): %s", body)
	require.Contains(t, body, "no action defined yet")
	http.DefaultClient.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("marvel runtime did not stop within 20 s of its context ending")
	}
}

func TestCLIRuntimeTokenErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o600))
	res := run(t, "runtime", "--data=", "--listen", "127.0.0.1:0", "--token-file", empty)
	require.ErrorContains(t, res.err, "is empty")
	res = run(t, "runtime", "--data=", "--listen", "127.0.0.1:0", "--token-file", filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, res.err, "--token-file")
	env := cli.Env{Getenv: func(k string) string {
		if k == "MARVEL_RUNTIME_TOKEN" {
			return "two words"
		}
		return ""
	}}
	res = runEnv(t, env, "runtime", "--data=", "--listen", "127.0.0.1:0")
	require.ErrorContains(t, res.err, "runtime token")
}
