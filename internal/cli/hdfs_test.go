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

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/cli"
	"github.com/marvel-serverless/marvel/internal/testbin"
)

// TestCLIHDFS runs `marvel hdfs` on free ports, reaches it with the real
// HDFS client and over WebHDFS, sees an action's file through both, and
// stops it by cancelling its context (as SIGINT does).
func TestCLIHDFS(t *testing.T) {
	data := t.TempDir()
	// A file an action wrote into its namespace's files.
	host := filepath.Join(data, "fs", "guest", "out", "part-0")
	require.NoError(t, os.MkdirAll(filepath.Dir(host), 0o755))
	require.NoError(t, os.WriteFile(host, []byte("written by an action\n"), 0o644))

	var stderr testbin.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	root := cli.NewRootCommand(cli.Env{Stdout: io.Discard, Stderr: &stderr})
	root.SetArgs([]string{"hdfs", "--data", data, "--listen", "127.0.0.1:0", "--datanode", "127.0.0.1:0", "--webhdfs", "127.0.0.1:0", "--superuser", "root"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	addrs := map[string]string{}
	re := regexp.MustCompile(`(?m)^(namenode|webhdfs)\s+(\S+)$`)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		select {
		case err := <-done:
			t.Fatalf("marvel hdfs stopped early: %v\n%s", err, stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "no \"listening on\" within 20 s:\n%s", stderr.String())
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range re.FindAllStringSubmatch(stderr.String(), -1) {
		addrs[m[1]] = m[2]
	}
	nn := strings.TrimPrefix(addrs["namenode"], "hdfs://")
	require.NotEmpty(t, nn, stderr.String())

	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{nn}, User: "guest"})
	require.NoError(t, err)
	got, err := c.ReadFile("/guest/out/part-0")
	require.NoError(t, err)
	require.Equal(t, "written by an action\n", string(got))
	fi, err := c.Stat("/guest/out/part-0")
	require.NoError(t, err)
	require.Equal(t, "guest", fi.(*hdfs.FileInfo).Owner())
	// Written through HDFS, read on the host (as an action would).
	w, err := c.Create("/guest/out/from-hdfs")
	require.NoError(t, err)
	_, err = w.Write([]byte("hello from hdfs"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	b, err := os.ReadFile(filepath.Join(data, "fs", "guest", "out", "from-hdfs"))
	require.NoError(t, err)
	require.Equal(t, "hello from hdfs", string(b))
	require.NoError(t, c.Close())

	resp, err := http.Get(addrs["webhdfs"] + "guest/out/part-0?op=OPEN&user.name=guest")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "written by an action\n", string(body))

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("marvel hdfs did not stop within 20 s of its context ending")
	}
}
