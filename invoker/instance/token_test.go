package instance

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/proxy"
)

func TestTokenNamesMatchTheRuntime(t *testing.T) {
	assert.Equal(t, proxy.TokenEnv, RuntimeTokenEnv)
	assert.Equal(t, proxy.TokenHeader, RuntimeTokenHeader)
	assert.Equal(t, proxy.TokenScheme, runtimeTokenScheme)
}

// TestOnlyTheInstanceDrivesItsRuntime: a client that reaches the runtime's
// port but does not hold the instance's secret (an action on the same
// loopback) is refused, runs nothing and leaves nothing in the logs; the
// instance itself is served; the secret is in the runtime's environment,
// not on its command line, and not in the action's environment.
func TestOnlyTheInstanceDrivesItsRuntime(t *testing.T) {
	t.Parallel()
	i := startInstance(t, func(c *Config) {
		c.Env = append(c.Env, RuntimeTokenEnv+"=chosen-by-the-caller") // replaced by Start
	})
	require.Len(t, i.secret, 64, "32 random bytes, hex")
	other := startInstance(t, nil)
	require.NotEqual(t, i.secret, other.secret, "a secret per instance")

	environ, err := os.ReadFile("/proc/" + strconv.Itoa(i.PID()) + "/environ")
	require.NoError(t, err)
	assert.Contains(t, strings.Split(string(environ), "\x00"), RuntimeTokenEnv+"="+i.secret)
	assert.NotContains(t, string(environ), "chosen-by-the-caller")
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(i.PID()) + "/cmdline")
	require.NoError(t, err)
	assert.NotContains(t, string(cmdline), i.secret, "never on the command line")

	mark := filepath.Join(t.TempDir(), "ran")
	post := func(path, auth string, body []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+i.Addr()+path, bytes.NewReader(body))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	for _, auth := range []string{"", "Bearer chosen-by-the-caller", "Bearer " + other.secret} {
		status, body := post("/init", auth, initBody(shellAction))
		require.Equal(t, http.StatusForbidden, status, "init with %q: %s", auth, body)
	}
	initShell(t, i) // the instance's own init is served, and was the first

	for _, auth := range []string{"", "Bearer chosen-by-the-caller", "Bearer " + other.secret} {
		status, body := post("/run", auth, runBody("touch "+mark+"; echo stolen"))
		require.Equal(t, http.StatusForbidden, status, "run with %q: %s", auth, body)
		assert.Contains(t, body, `"error"`)
	}
	assert.NoFileExists(t, mark, "a refused /run never reaches the action")

	r, err := i.Run(t.Context(), runBody(`echo mine; if [ -n "${`+RuntimeTokenEnv+`+x}" ]; then reply='{"seen":true}'; else reply='{"seen":false}'; fi`), RunOptions{})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"seen":false}`, string(r.Body), "the action does not get the token")
	assert.Equal(t, []string{"stdout: mine"}, texts(r.Logs, ""), "refused requests leave nothing in the logs")
}
