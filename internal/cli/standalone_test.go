package cli_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/cli"
	"github.com/marvel-serverless/marvel/internal/testbin"
)

// TestCLIStandalone runs `marvel standalone` in-process on free ports: it
// prints its endpoints, serves the API with the guest key, and stops on
// cancel. (invoker/e2e drives the real binary end to end.)
func TestCLIStandalone(t *testing.T) {
	data := t.TempDir()
	var stderr testbin.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	root := cli.NewRootCommand(cli.Env{Stdout: io.Discard, Stderr: &stderr})
	root.SetArgs([]string{"standalone", "--data", data, "--api", "127.0.0.1:0", "--hdfs", "127.0.0.1:0",
		"--datanode", "127.0.0.1:0", "--webhdfs", "-", "--pmem", "emulated", "--isolate", "false",
		"--runtime-binary", "/bin/false"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		require.True(t, time.Now().Before(deadline), "no listening line: %s", stderr.String())
		select {
		case err := <-done:
			t.Fatalf("standalone exited: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	host := ""
	for _, line := range strings.Split(stderr.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "API" {
			host = f[2]
		}
	}
	out := stderr.String()
	require.NotEmpty(t, host, out)
	require.Contains(t, out, "wsk property set --apihost "+host+" --auth 23bc46b1-71f6-4ed5-8c54-816aa4f8c502:")
	require.Contains(t, out, "HDFS       hdfs://127.0.0.1:")

	req, err := http.NewRequest("GET", host+"/api/v1/namespaces", nil)
	require.NoError(t, err)
	req.SetBasicAuth("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.JSONEq(t, `["guest"]`, string(body))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("standalone did not stop on cancel")
	}
	http.DefaultClient.CloseIdleConnections()
	_, err = os.Stat(filepath.Join(data, ".invoker"))
	require.NoError(t, err, "the records live under the data directory")
}
