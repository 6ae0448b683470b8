package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// envScript acknowledges, then, for every activation, touches the file
// named by its first argument's "mark" parameter (so a test can tell
// whether it ran) and answers with its environment.
const envScript = "#!/bin/bash\necho '{\"ok\":true}' >&3\nwhile IFS= read -r line; do\n" +
	"m=$(printf '%s' \"$line\" | sed -n 's/.*\"mark\":\"\\([^\"]*\\)\".*/\\1/p'); [ -n \"$m\" ] && touch \"$m\"\n" +
	"printf '{\"env\":%s}\\n' \"$(env | base64 -w0 | sed 's/.*/\"&\"/')\" >&3\ndone\n"

// postAuth posts v to url with the Authorization header auth (none if
// empty) and returns the status and body.
func postAuth(t *testing.T, url, auth string, v any) (int, string) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set(TokenHeader, auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

func TestTokenGuardsEveryRequest(t *testing.T) {
	out, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	t.Cleanup(func() { out.Close() })
	hs, srv := newTestServer(t, func(o *Options) {
		o.Token = testToken
		o.Stdout, o.Stderr = out, out
	})
	mark := filepath.Join(t.TempDir(), "ran")
	init := map[string]any{"value": map[string]any{"code": envScript}}
	run := map[string]any{"value": map[string]any{"mark": mark}}
	good := TokenScheme + testToken

	refusals := []struct{ name, auth, want string }{
		{"none", "", "has no Authorization header"},
		{"wrong", TokenScheme + strings.Repeat("0", len(testToken)), "does not carry its token"},
		{"prefix", TokenScheme + testToken[:10], "does not carry its token"},
		{"longer", good + "0", "does not carry its token"},
		{"scheme", "Basic " + testToken, "does not carry its token"},
		{"bare", testToken, "does not carry its token"},
		{"lowercase", "bearer " + testToken, "does not carry its token"},
	}
	// Before init: /init is refused and does not initialise.
	for _, c := range refusals {
		status, body := postAuth(t, hs.URL+"/init", c.auth, init)
		require.Equal(t, http.StatusForbidden, status, "%s: %s", c.name, body)
		require.Contains(t, body, c.want, c.name)
		var e map[string]string
		require.NoError(t, json.Unmarshal([]byte(body), &e), "an OpenWhisk-style JSON error")
		require.NotEmpty(t, e["error"])
	}
	require.False(t, srv.Stats().Initialized, "a refused /init initialises nothing")
	status, body := postAuth(t, hs.URL+"/init", good, init)
	require.Equal(t, http.StatusOK, status, body)

	// After init: /run, other paths and methods are refused, nothing runs.
	for _, c := range refusals {
		status, body := postAuth(t, hs.URL+"/run", c.auth, run)
		require.Equal(t, http.StatusForbidden, status, "%s: %s", c.name, body)
		status, _ = postAuth(t, hs.URL+"/init", c.auth, init)
		require.Equal(t, http.StatusForbidden, status, "re-init %s", c.name)
		status, _ = postAuth(t, hs.URL+"/nowhere", c.auth, run)
		require.Equal(t, http.StatusForbidden, status, "unknown path %s", c.name)
	}
	resp, err := http.Get(hs.URL + "/run")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "GET without the token")
	require.NoFileExists(t, mark, "a refused /run never reaches the action")
	st := srv.Stats()
	require.Zero(t, st.Runs, "refused requests are not runs")
	require.EqualValues(t, 3*len(refusals)+len(refusals)+1, st.Refused)
	logged, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	require.NotContains(t, string(logged), Sentinel, "a refused /run writes no sentinels")

	status, body = postAuth(t, hs.URL+"/run", good, run)
	require.Equal(t, http.StatusOK, status, body)
	require.FileExists(t, mark, "the platform's /run runs")
	require.EqualValues(t, 1, srv.Stats().Runs)
}

func TestTokenNeverReachesTheAction(t *testing.T) {
	// A careless embedder passes its whole environment, token included;
	// the init env tries to set it too.
	hs, _ := newTestServer(t, func(o *Options) {
		o.Token = testToken
		o.Env = append(o.Env, TokenEnv+"="+testToken, "KEPT=1")
		o.Build.Env = append(o.Build.Env, TokenEnv+"="+testToken)
	})
	init := map[string]any{"value": map[string]any{"code": envScript, "env": map[string]any{TokenEnv: testToken, "FROM_INIT": "2"}}}
	status, body := postAuth(t, hs.URL+"/init", TokenScheme+testToken, init)
	require.Equal(t, http.StatusOK, status, body)
	status, body = postAuth(t, hs.URL+"/run", TokenScheme+testToken, map[string]any{"value": map[string]any{}})
	require.Equal(t, http.StatusOK, status, body)
	var res struct{ Env []byte }
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	env := string(res.Env)
	require.Contains(t, env, "KEPT=1\n", "the action got its environment")
	require.Contains(t, env, "FROM_INIT=2\n")
	require.NotContains(t, env, TokenEnv)
	require.NotContains(t, env, testToken)
}

func TestNoTokenServesAnyone(t *testing.T) {
	hs, _ := newTestServer(t, nil)
	status, body := postAuth(t, hs.URL+"/init", "", map[string]any{"value": map[string]any{"code": echoScript}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = postAuth(t, hs.URL+"/run", "Bearer whatever", map[string]any{"value": map[string]any{"a": 1}})
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"value":{"a":1}}`, body)
}

func TestTokenValidation(t *testing.T) {
	for _, tok := range []string{"has space", "tab\there", "nl\n", "é", strings.Repeat("x", MaxTokenBytes+1)} {
		opts := DefaultOptions()
		opts.WorkDir = t.TempDir()
		opts.Token = tok
		_, err := New(opts)
		require.ErrorContains(t, err, "runtime token", "%q", tok)
	}
}
