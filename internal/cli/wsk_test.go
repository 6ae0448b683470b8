package cli_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/cli"
)

const (
	wskGuestAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	wskGuestUser = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	wskKey       = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	wskActID     = "0123456789abcdef0123456789abcdef"
	wskTxID      = "9b6f0a3c1d2e4f5a6b7c8d9e0f1a2b3c"
	wskNotFound  = `{"error":"The requested resource does not exist.","code":"` + wskTxID + `"}`
)

// wskSeen is one request as the fake OpenWhisk received it.
type wskSeen struct {
	Method, URI, Body, User string
}

type wskAnswer struct {
	status int
	header map[string]string
	body   string
}

// wskFake records requests and answers each with the next queued answer
// (the last one repeats).
type wskFake struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []wskSeen
	ans []wskAnswer
}

func newWskFake(t *testing.T, tls bool) *wskFake {
	t.Helper()
	f := &wskFake{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, _, _ := r.BasicAuth()
		f.mu.Lock()
		f.got = append(f.got, wskSeen{r.Method, r.RequestURI, string(body), user})
		a := wskAnswer{status: 500, body: `{"error":"nothing queued","code":"t"}`}
		if len(f.ans) > 0 {
			a = f.ans[0]
			if len(f.ans) > 1 {
				f.ans = f.ans[1:]
			}
		}
		f.mu.Unlock()
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	})
	f.srv = httptest.NewUnstartedServer(h)
	// The insecure test's refused handshakes are expected.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *wskFake) queue(as ...wskAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ans, f.got = as, nil
}

func (f *wskFake) requests() []wskSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wskSeen(nil), f.got...)
}

// env is an environment pointing marvel at f as the guest.
func (f *wskFake) env(extra map[string]string) cli.Env {
	vars := map[string]string{"WHISK_APIHOST": f.srv.URL, "WHISK_AUTH": wskGuestAuth}
	for k, v := range extra {
		vars[k] = v
	}
	return cli.Env{Getenv: func(k string) string { return vars[k] }}
}

// run runs marvel with args after queueing answers, and returns its result
// and the requests it made.
func (f *wskFake) run(t *testing.T, answers []wskAnswer, args ...string) (result, []wskSeen) {
	t.Helper()
	f.queue(answers...)
	return runEnv(t, f.env(nil), args...), f.requests()
}

func wskOK(body string) []wskAnswer { return []wskAnswer{{200, nil, body}} }

// wskFiles writes the action and parameter files the tests use.
func wskFiles(t *testing.T) (dir string, zipData, elfData []byte) {
	t.Helper()
	dir = t.TempDir()
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, err := zw.Create("exec")
	require.NoError(t, err)
	io.WriteString(w, "#!/bin/sh\necho '{}'\n")
	require.NoError(t, zw.Close())
	zipData = zb.Bytes()
	elfData = append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 0xff, 0xfe, 'x')
	for name, data := range map[string][]byte{
		"hello.go":    []byte("package main\n\nfunc Main(a map[string]any) map[string]any { return a }\n"),
		"exec.zip":    zipData,
		"app":         elfData,
		"run.sh":      []byte("#!/bin/sh\necho '{\"ok\":true}'\n"),
		"notes.txt":   []byte("plain"),
		"params.json": []byte(`{"n":1, "f":"from file"}`),
		"annots.json": []byte(`{"description":"from file"}`),
		"array.json":  []byte(`[1]`),
		"bad.json":    []byte(`{"a":`),
		"props":       []byte(""),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	return dir, zipData, elfData
}

func wskJSONStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestCLIActionPut checks the requests of action create and update: kind
// defaults, base64, parameters and annotations, limits.
func TestCLIActionPut(t *testing.T) {
	f := newWskFake(t, false)
	dir, zipData, elfData := wskFiles(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	hello, _ := os.ReadFile(p("hello.go"))
	script, _ := os.ReadFile(p("run.sh"))
	b64 := func(b []byte) string { return wskJSONStr(base64.StdEncoding.EncodeToString(b)) }
	stored := `{"namespace":"guest","name":"x","version":"0.0.1","publish":false,"annotations":[],"parameters":[]}`

	for _, tc := range []struct {
		name string
		args []string
		uri  string
		body string
		out  string
	}{
		{"go source", []string{"create", "hello", p("hello.go")},
			"/api/v1/namespaces/_/actions/hello?overwrite=false",
			`{"namespace":"_","name":"hello","exec":{"kind":"go:default","code":` + wskJSONStr(string(hello)) + `}}`,
			"ok: created action hello\n"},
		{"zip is go:default in base64", []string{"create", "zipped", p("exec.zip")},
			"/api/v1/namespaces/_/actions/zipped?overwrite=false",
			`{"namespace":"_","name":"zipped","exec":{"kind":"go:default","code":` + b64(zipData) + `}}`,
			"ok: created action zipped\n"},
		{"ELF is go:default in base64", []string{"create", "bin", p("app")},
			"/api/v1/namespaces/_/actions/bin?overwrite=false",
			`{"namespace":"_","name":"bin","exec":{"kind":"go:default","code":` + b64(elfData) + `}}`,
			"ok: created action bin\n"},
		{"#! script is native", []string{"create", "script", p("run.sh")},
			"/api/v1/namespaces/_/actions/script?overwrite=false",
			`{"namespace":"_","name":"script","exec":{"kind":"native","code":` + wskJSONStr(string(script)) + `}}`,
			"ok: created action script\n"},
		{"--native zip", []string{"create", "nat", p("exec.zip"), "--native"},
			"/api/v1/namespaces/_/actions/nat?overwrite=false",
			`{"namespace":"_","name":"nat","exec":{"kind":"native","code":` + b64(zipData) + `}}`,
			"ok: created action nat\n"},
		{"--docker without code", []string{"create", "img", "--docker", "user/img:tag"},
			"/api/v1/namespaces/_/actions/img?overwrite=false",
			`{"namespace":"_","name":"img","exec":{"kind":"blackbox","image":"user/img:tag"}}`,
			"ok: created action img\n"},
		{"--docker with code", []string{"create", "img2", p("run.sh"), "--docker", "user/img", "--main", "run"},
			"/api/v1/namespaces/_/actions/img2?overwrite=false",
			`{"namespace":"_","name":"img2","exec":{"kind":"blackbox","image":"user/img","main":"run","code":` + wskJSONStr(string(script)) + `}}`,
			"ok: created action img2\n"},
		{"--kind and --main", []string{"create", "k", p("notes.txt"), "--kind", "go:1.26", "--main", "Handler"},
			"/api/v1/namespaces/_/actions/k?overwrite=false",
			`{"namespace":"_","name":"k","exec":{"kind":"go:1.26","main":"Handler","code":"plain"}}`,
			"ok: created action k\n"},
		{"parameters in order, JSON when it parses, later wins", []string{"create", "p", p("hello.go"),
			"-p", "n", "42", "-p", "s", "hello", "--param", "b", "true", "-p", "o", `{"a": [1]}`, "-p", "q", `"quoted"`,
			"-p", "e", "", "-p", "dash", "-x", "-P", p("params.json"), "-p", "s", "last"},
			"/api/v1/namespaces/_/actions/p?overwrite=false",
			`{"namespace":"_","name":"p","exec":{"kind":"go:default","code":` + wskJSONStr(string(hello)) + `},
			  "parameters":[{"key":"n","value":1},{"key":"s","value":"last"},{"key":"b","value":true},{"key":"o","value":{"a":[1]}},
			  {"key":"q","value":"quoted"},{"key":"e","value":""},{"key":"dash","value":"-x"},{"key":"f","value":"from file"}]}`,
			"ok: created action p\n"},
		{"annotations", []string{"create", "a", p("hello.go"), "-a", "description", "hi", "--annotation-file=" + p("annots.json"), "--annotation", "web-export", "true"},
			"/api/v1/namespaces/_/actions/a?overwrite=false",
			`{"namespace":"_","name":"a","exec":{"kind":"go:default","code":` + wskJSONStr(string(hello)) + `},
			  "annotations":[{"key":"description","value":"from file"},{"key":"web-export","value":true}]}`,
			"ok: created action a\n"},
		{"limits", []string{"create", "lim", p("hello.go"), "-t", "1000", "-m", "512", "--logsize", "5", "-c", "2"},
			"/api/v1/namespaces/_/actions/lim?overwrite=false",
			`{"namespace":"_","name":"lim","exec":{"kind":"go:default","code":` + wskJSONStr(string(hello)) + `},
			  "limits":{"timeout":1000,"memory":512,"logs":5,"concurrency":2}}`,
			"ok: created action lim\n"},
		{"flags before the arguments", []string{"create", "-p", "a", "1", "--kind", "native", "-m", "128", "mixed", p("run.sh")},
			"/api/v1/namespaces/_/actions/mixed?overwrite=false",
			`{"namespace":"_","name":"mixed","exec":{"kind":"native","code":` + wskJSONStr(string(script)) + `},
			  "parameters":[{"key":"a","value":1}],"limits":{"memory":128}}`,
			"ok: created action mixed\n"},
		{"update without FILE keeps the code", []string{"update", "hello", "-m", "128"},
			"/api/v1/namespaces/_/actions/hello?overwrite=true",
			`{"namespace":"_","name":"hello","limits":{"memory":128}}`,
			"ok: updated action hello\n"},
		{"update with code and deleted annotations", []string{"update", "hello", p("run.sh"), "--del-annotation", "x", "--del-annotation", "y"},
			"/api/v1/namespaces/_/actions/hello?overwrite=true",
			`{"namespace":"_","name":"hello","exec":{"kind":"native","code":` + wskJSONStr(string(script)) + `},"delAnnotations":["x","y"]}`,
			"ok: updated action hello\n"},
		{"update of a packaged action in a named namespace", []string{"update", "/guest/pkg/my hello", "--docker", "img"},
			"/api/v1/namespaces/guest/actions/pkg/my%20hello?overwrite=true",
			`{"namespace":"guest","name":"pkg/my hello","exec":{"kind":"blackbox","image":"img"}}`,
			"ok: updated action /guest/pkg/my hello\n"},
		{"--namespace", []string{"create", "--namespace", "other", "hello", p("run.sh")},
			"/api/v1/namespaces/other/actions/hello?overwrite=false",
			`{"namespace":"other","name":"hello","exec":{"kind":"native","code":` + wskJSONStr(string(script)) + `}}`,
			"ok: created action hello\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, reqs := f.run(t, wskOK(stored), append([]string{"action"}, tc.args...)...)
			require.NoError(t, res.err)
			require.Equal(t, tc.out, res.stdout)
			require.Empty(t, res.stderr)
			require.Len(t, reqs, 1)
			require.Equal(t, "PUT", reqs[0].Method)
			require.Equal(t, tc.uri, reqs[0].URI)
			require.JSONEq(t, tc.body, reqs[0].Body)
			require.Equal(t, wskGuestUser, reqs[0].User)
		})
	}
}

func TestCLIActionPutErrors(t *testing.T) {
	f := newWskFake(t, false)
	dir, _, _ := wskFiles(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		args  []string
		usage bool
		msg   string
	}{
		{[]string{"create", "hello"}, true, "An action name and code artifact are required."},
		{[]string{"create"}, true, "accepts between 1 and 2 arg(s), received 0"},
		{[]string{"create", "a", "b", "c"}, true, "accepts between 1 and 2 arg(s), received 3"},
		{[]string{"create", "hello", p("hello.go"), "--kind", "x", "--docker", "y"}, true, "give at most one of --kind, --docker and --native"},
		{[]string{"update", "hello", "--kind", "go:default"}, true, "--kind, --native and --main need a FILE"},
		{[]string{"create", "hello", p("hello.go"), "-p", "onlykey"}, true, "flag --param needs a KEY and a VALUE (-p KEY VALUE)"},
		{[]string{"create", "hello", p("hello.go"), "-P"}, true, "flag --param-file needs a FILE"},
		{[]string{"create", "hello", p("hello.go"), "--param=k"}, true, "write -p KEY VALUE"},
		{[]string{"create", "hello", p("hello.go"), "--bogus"}, true, "unknown flag: --bogus"},
		{[]string{"create", "hello", p("hello.go"), "-m", "lots"}, true, `invalid argument "lots" for "-m, --memory" flag`},
		{[]string{"invoke", "hello", "-a", "k", "v"}, true, "unknown shorthand flag: 'a' in -a"},
		{[]string{"update", "hello", "--del-annotation"}, true, "flag needs an argument: --del-annotation"},
		{[]string{"create", "hello", p("notes.txt")}, false, "cannot tell the kind of " + p("notes.txt")},
		{[]string{"create", "hello", p("missing.go")}, false, "Unable to read the action code: open " + p("missing.go")},
		{[]string{"create", "hello", p("hello.go"), "-P", p("array.json")}, false, "Invalid parameter argument: " + p("array.json") + ": want a JSON object"},
		{[]string{"create", "hello", p("hello.go"), "-P", p("bad.json")}, false, "Invalid parameter argument: " + p("bad.json")},
		{[]string{"create", "hello", p("hello.go"), "-A", p("missing.json")}, false, "Invalid annotation argument: open " + p("missing.json")},
		{[]string{"invoke", "hello", "-P", p("array.json")}, false, "Invalid parameter argument: " + p("array.json") + ": want a JSON object"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res, reqs := f.run(t, nil, append([]string{"action"}, tc.args...)...)
			require.Error(t, res.err)
			require.Contains(t, res.err.Error(), tc.msg)
			require.Empty(t, reqs, "nothing is sent")
			require.Empty(t, res.stdout)
			if tc.usage {
				require.Equal(t, 2, res.code())
				require.Contains(t, res.stderr, "Usage:\n  marvel action")
			} else {
				require.Equal(t, 1, res.code())
				require.Empty(t, res.stderr)
			}
		})
	}

	// A server error, in wsk's words.
	res, _ := f.run(t, []wskAnswer{{409, nil, `{"error":"resource already exists","code":"` + wskTxID + `"}`}}, "action", "create", "hello", p("hello.go"))
	require.EqualError(t, res.err, "Unable to create action 'hello': resource already exists (code "+wskTxID+")")
	require.Equal(t, 1, res.code())
	require.Empty(t, res.stderr)
}

// TestCLIWskSettings checks where the connection settings come from: flag
// over environment over property file, as for wsk.
func TestCLIWskSettings(t *testing.T) {
	f := newWskFake(t, false)
	dir := t.TempDir()
	auth := func(user string) string { return user + ":" + wskKey }
	props := filepath.Join(dir, "wskprops")
	require.NoError(t, os.WriteFile(props, []byte("APIHOST="+f.srv.URL+"\nAUTH="+auth("fileuser")+"\nNAMESPACE=filens\n"), 0o600))
	runWith := func(vars map[string]string, args ...string) (result, []wskSeen) {
		f.queue(wskAnswer{200, nil, `[]`})
		return runEnv(t, cli.Env{Getenv: func(k string) string { return vars[k] }}, args...), f.requests()
	}
	check := func(res result, reqs []wskSeen, user, ns string) {
		t.Helper()
		require.NoError(t, res.err)
		require.Len(t, reqs, 1)
		require.Equal(t, user, reqs[0].User)
		require.Equal(t, "/api/v1/namespaces/"+ns+"/actions?limit=30", reqs[0].URI)
	}

	res, reqs := runWith(map[string]string{"WSK_CONFIG_FILE": props}, "action", "list")
	check(res, reqs, "fileuser", "filens")

	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, ".wskprops"), []byte("APIHOST="+f.srv.URL+"\nAUTH="+auth("homeuser")+"\n"), 0o600))
	res, reqs = runWith(map[string]string{"HOME": home}, "action", "list")
	check(res, reqs, "homeuser", "_")

	env := map[string]string{"WSK_CONFIG_FILE": props, "WHISK_AUTH": auth("envuser"), "WHISK_NAMESPACE": "envns"}
	res, reqs = runWith(env, "action", "list")
	check(res, reqs, "envuser", "envns")

	res, reqs = runWith(env, "action", "-u", auth("flaguser"), "list", "--namespace", "flagns")
	check(res, reqs, "flaguser", "flagns")

	// --apihost wins over a WHISK_APIHOST that goes nowhere.
	env = map[string]string{"WHISK_APIHOST": "http://127.0.0.1:1", "WHISK_AUTH": wskGuestAuth}
	res, reqs = runWith(env, "activation", "list", "--apihost", f.srv.URL)
	require.NoError(t, res.err)
	require.Len(t, reqs, 1)
	require.Equal(t, "/api/v1/namespaces/_/activations?limit=30", reqs[0].URI)
	res, _ = runWith(env, "activation", "list")
	require.ErrorContains(t, res.err, "Unable to obtain the list of activations for namespace '_': client: Get \"http://127.0.0.1:1/api/v1/namespaces/_/activations?limit=30\"")

	// Nothing configured, or a malformed key.
	res, _ = runWith(nil, "action", "list")
	require.ErrorContains(t, res.err, "client: no API host")
	require.Equal(t, 1, res.code())
	res, _ = runWith(map[string]string{"WHISK_APIHOST": f.srv.URL, "WHISK_AUTH": "nocolon"}, "action", "list")
	require.ErrorContains(t, res.err, "not of the form UUID:KEY")
	res, _ = runWith(map[string]string{"WHISK_APIHOST": f.srv.URL}, "action", "list")
	require.ErrorContains(t, res.err, "client: no auth key")

	// --log-level reaches the commands that parse their own flags.
	f.queue(wskAnswer{202, nil, `{"activationId":"` + wskActID + `"}`})
	res = runEnv(t, f.env(nil), "action", "invoke", "hello", "--log-level", "debug")
	require.NoError(t, res.err)
	require.Contains(t, res.stderr, `msg="openwhisk request" method=POST`)
}

func TestCLIWskInsecure(t *testing.T) {
	f := newWskFake(t, true)
	dir := t.TempDir()
	props := filepath.Join(dir, "wskprops")
	require.NoError(t, os.WriteFile(props, []byte("INSECURE_SSL=true\n"), 0o600))
	for _, tc := range []struct {
		env  map[string]string
		args []string
		ok   bool
	}{
		{nil, []string{"action", "list"}, false},
		{nil, []string{"action", "list", "-i"}, true},
		{nil, []string{"activation", "--insecure", "list"}, true},
		{map[string]string{"WSK_CONFIG_FILE": props}, []string{"action", "list"}, true},
		{map[string]string{"WSK_CONFIG_FILE": props}, []string{"action", "list", "--insecure=false"}, false},
	} {
		f.queue(wskAnswer{200, nil, `[]`})
		res := runEnv(t, f.env(tc.env), tc.args...)
		if tc.ok {
			require.NoError(t, res.err, tc.args)
		} else {
			require.ErrorContains(t, res.err, "certificate", tc.args)
		}
	}
}

// activationBody is a full activation record as OpenWhisk sends it.
func wskActivationBody(status string, success bool, result string) string {
	return `{"namespace":"guest","name":"hello","subject":"guest","activationId":"` + wskActID + `","start":1700000000000,"end":1700000000012,"duration":12,` +
		`"logs":["2024-01-02T03:04:05.123456789Z stdout: hi there","2024-01-02T03:04:05.2Z   stderr: oops","no prefix"],"version":"0.0.1","publish":false,` +
		`"annotations":[{"key":"kind","value":"go:default"}],"response":{"status":"` + status + `","success":` + fmt.Sprint(success) + `,"result":` + result + `}}`
}

func TestCLIActionInvoke(t *testing.T) {
	f := newWskFake(t, false)
	dir, _, _ := wskFiles(t)
	idHeader := map[string]string{"X-Openwhisk-Activation-Id": wskActID}
	accepted := wskAnswer{202, nil, `{"activationId":"` + wskActID + `"}`}
	for _, tc := range []struct {
		name   string
		args   []string
		answer wskAnswer
		uri    string
		body   string
		out    string // exact stdout, or with outHas its start
		outHas bool
		err    string // exact error; "" none
	}{
		{name: "non-blocking", args: []string{"hello", "-p", "name", "Demo", "-p", "n", "1"}, answer: accepted,
			uri: "/api/v1/namespaces/_/actions/hello?blocking=false&result=false", body: `{"name":"Demo","n":1}`,
			out: "ok: invoked /_/hello with id " + wskActID + "\n"},
		{name: "result", args: []string{"-r", "hello", "-p", "name", "Demo"},
			answer: wskAnswer{200, idHeader, `{"main":"Hello, <Demo> & co","list":[1,2]}`},
			uri:    "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", body: `{"name":"Demo"}`,
			out: "{\n    \"main\": \"Hello, <Demo> & co\",\n    \"list\": [\n        1,\n        2\n    ]\n}\n"},
		{name: "blocking", args: []string{"hello", "--blocking", "-P", filepath.Join(dir, "params.json"), "-p", "n", "2"},
			answer: wskAnswer{200, idHeader, wskActivationBody("success", true, `{"main":"Hello"}`)},
			uri:    "/api/v1/namespaces/_/actions/hello?blocking=true&result=false", body: `{"n":2,"f":"from file"}`,
			out: "ok: invoked /_/hello with id " + wskActID + "\n{\n    \"namespace\": \"guest\",\n    \"name\": \"hello\",\n", outHas: true},
		{name: "explicit namespace", args: []string{"/guest/pkg/hello"}, answer: accepted,
			uri: "/api/v1/namespaces/guest/actions/pkg/hello?blocking=false&result=false", body: `{}`,
			out: "ok: invoked /guest/pkg/hello with id " + wskActID + "\n"},
		{name: "result, application error", args: []string{"hello", "-r"},
			answer: wskAnswer{502, idHeader, `{"error":"boom"}`},
			uri:    "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", body: `{}`,
			out: "{\n    \"error\": \"boom\"\n}\n",
			err: "Unable to invoke action 'hello': the action failed in activation " + wskActID},
		{name: "blocking, application error", args: []string{"hello", "-b"},
			answer: wskAnswer{502, idHeader, wskActivationBody("application error", false, `{"error":"boom"}`)},
			uri:    "/api/v1/namespaces/_/actions/hello?blocking=true&result=false", body: `{}`,
			out: "ok: invoked /_/hello with id " + wskActID + "\n{\n", outHas: true,
			err: "Unable to invoke action 'hello': application error in activation " + wskActID},
		{name: "missing", args: []string{"nope"}, answer: wskAnswer{404, nil, wskNotFound},
			uri: "/api/v1/namespaces/_/actions/nope?blocking=false&result=false", body: `{}`,
			err: "Unable to invoke action 'nope': The requested resource does not exist. (code " + wskTxID + ")"},
		{name: "gateway error", args: []string{"hello", "-r"}, answer: wskAnswer{502, nil, "<html>Bad Gateway</html>"},
			uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", body: `{}`,
			err: "Unable to invoke action 'hello': <html>Bad Gateway</html> (HTTP status code 502)"},
		{name: "blocking outlasts the wait", args: []string{"hello", "-b"}, answer: accepted,
			uri: "/api/v1/namespaces/_/actions/hello?blocking=true&result=false", body: `{}`,
			err: "invoked /_/hello, but the request has not yet finished, with id " + wskActID + " (marvel activation get " + wskActID + " fetches it later)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, reqs := f.run(t, []wskAnswer{tc.answer}, append([]string{"action", "invoke"}, tc.args...)...)
			require.Len(t, reqs, 1)
			require.Equal(t, "POST", reqs[0].Method)
			require.Equal(t, tc.uri, reqs[0].URI)
			require.Equal(t, tc.body, reqs[0].Body, "the parameters in order")
			if tc.outHas {
				require.True(t, strings.HasPrefix(res.stdout, tc.out), res.stdout)
				require.Contains(t, res.stdout, `"activationId": "`+wskActID+`"`)
			} else {
				require.Equal(t, tc.out, res.stdout)
			}
			if tc.err == "" {
				require.NoError(t, res.err)
			} else {
				require.EqualError(t, res.err, tc.err)
				require.Equal(t, 1, res.code())
			}
			require.Empty(t, res.stderr)
		})
	}
}

func TestCLIActionGetListDelete(t *testing.T) {
	f := newWskFake(t, false)
	action := `{"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"exec":{"kind":"go:default","binary":false},"annotations":[{"key":"exec","value":"go:default"}],"parameters":[],"limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"updated":1700000000000}`
	res, reqs := f.run(t, wskOK(action), "action", "get", "hello")
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/actions/hello?code=false", reqs[0].URI)
	require.Equal(t, `ok: got action hello
{
    "namespace": "guest",
    "name": "hello",
    "version": "0.0.1",
    "publish": false,
    "exec": {
        "kind": "go:default",
        "binary": false
    },
    "annotations": [
        {
            "key": "exec",
            "value": "go:default"
        }
    ],
    "parameters": [],
    "limits": {
        "timeout": 60000,
        "memory": 256,
        "logs": 10,
        "concurrency": 1
    },
    "updated": 1700000000000
}
`, res.stdout)

	res, reqs = f.run(t, wskOK(action), "action", "get", "--code", "pkg/hello")
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/actions/pkg/hello?code=true", reqs[0].URI)

	res, _ = f.run(t, []wskAnswer{{404, nil, wskNotFound}}, "action", "get", "nope")
	require.EqualError(t, res.err, "Unable to get action 'nope': The requested resource does not exist. (code "+wskTxID+")")

	list := `[{"namespace":"guest","name":"a","version":"0.0.1","publish":false,"annotations":[{"key":"exec","value":"go:default"}],"exec":{"binary":false}},
	          {"namespace":"guest/pkg","name":"b","version":"0.0.2","publish":true,"annotations":[],"exec":{"kind":"native","binary":true}}]`
	res, reqs = f.run(t, wskOK(list), "action", "list")
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/actions?limit=30", reqs[0].URI)
	require.Equal(t, "actions\n"+
		"/guest/a"+strings.Repeat(" ", 70-len("/guest/a"))+" private go:default\n"+
		"/guest/pkg/b"+strings.Repeat(" ", 70-len("/guest/pkg/b"))+" public native\n", res.stdout)

	res, reqs = f.run(t, wskOK(`[]`), "action", "list", "--limit", "5", "-s", "2")
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/actions?limit=5&skip=2", reqs[0].URI)
	require.Equal(t, "actions\n", res.stdout)

	res, reqs = f.run(t, wskOK(action), "action", "delete", "hello")
	require.NoError(t, res.err)
	require.Equal(t, "DELETE", reqs[0].Method)
	require.Equal(t, "/api/v1/namespaces/_/actions/hello", reqs[0].URI)
	require.Equal(t, "ok: deleted action hello\n", res.stdout)

	res, _ = f.run(t, []wskAnswer{{500, nil, "oops"}}, "action", "delete", "hello")
	require.EqualError(t, res.err, "Unable to delete action 'hello': oops (HTTP status code 500)")

	res, _ = f.run(t, nil, "action", "get")
	require.Equal(t, 2, res.code())
}

func TestCLIActivations(t *testing.T) {
	f := newWskFake(t, false)
	const start1, start2 = int64(1700000000000), int64(1700000360000)
	summaries := fmt.Sprintf(`[
	  {"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"annotations":[{"key":"kind","value":"go:default"},{"key":"initTime","value":31}],
	   "activationId":"%s","start":%d,"end":%d,"duration":1500,"statusCode":0},
	  {"namespace":"guest","name":"a-rather-long-action-name-that-is-cut","version":"0.0.12","publish":false,"annotations":[],
	   "activationId":"fedcba9876543210fedcba9876543210","start":%d,"end":%d,"duration":0,"statusCode":1}]`,
		wskActID, start1, start1+1500, start2, start2+7)
	res, reqs := f.run(t, wskOK(summaries), "activation", "list")
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/activations?limit=30", reqs[0].URI)
	at := func(ms int64) string { return time.UnixMilli(ms).Format("2006-01-02 15:04:05") }
	require.Equal(t, ""+
		"Datetime            Activation ID                    Kind       Start Duration   Status            Entity\n"+
		at(start1)+" "+wskActID+" go:default cold  1.5s       success           guest/hello:0.0.1\n"+
		at(start2)+" fedcba9876543210fedcba9876543210 unknown    warm  7ms        application error guest/a-rather-long-a...-that-is-cut:0.0.12\n",
		res.stdout)

	res, reqs = f.run(t, wskOK(`[]`), "activation", "list", "hello", "--since", "1000", "--upto", "2023-11-14T22:13:20Z", "-l", "5", "--skip", "1")
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/activations?limit=5&name=hello&since=1000&skip=1&upto=1700000000000", reqs[0].URI)

	// A duration is that long ago.
	before := time.Now()
	res, reqs = f.run(t, wskOK(`[]`), "activation", "list", "--since", "1h30m")
	after := time.Now()
	require.NoError(t, res.err)
	u, err := url.Parse(reqs[0].URI)
	require.NoError(t, err)
	since, err := strconv.ParseInt(u.Query().Get("since"), 10, 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, since, before.Add(-90*time.Minute).UnixMilli())
	require.LessOrEqual(t, since, after.Add(-90*time.Minute).UnixMilli())

	full := "[" + wskActivationBody("success", true, `{"x":1}`) + "]"
	res, reqs = f.run(t, wskOK(full), "activation", "list", "-f")
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/activations?docs=true&limit=30", reqs[0].URI)
	require.True(t, strings.HasPrefix(res.stdout, "activations\n{\n    \"namespace\": \"guest\",\n"), res.stdout)

	res, reqs = f.run(t, wskOK(wskActivationBody("success", true, `{"x":1}`)), "activation", "get", wskActID)
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/activations/"+wskActID, reqs[0].URI)
	require.True(t, strings.HasPrefix(res.stdout, "ok: got activation "+wskActID+"\n{\n    \"namespace\": \"guest\",\n"), res.stdout)

	// --last looks up the newest activation first.
	res, reqs = f.run(t, []wskAnswer{{200, nil, summaries}, {200, nil, wskActivationBody("success", true, `{}`)}}, "activation", "get", "--last")
	require.NoError(t, res.err)
	require.Len(t, reqs, 2)
	require.Equal(t, "/api/v1/namespaces/_/activations?limit=1", reqs[0].URI)
	require.Equal(t, "/api/v1/namespaces/_/activations/"+wskActID, reqs[1].URI)
	res, _ = f.run(t, wskOK(`[]`), "activation", "result", "-l")
	require.EqualError(t, res.err, "Activation list does not contain any activations.")

	logs := `{"logs":["2024-01-02T03:04:05.123456789Z stdout: hi there","2024-01-02T03:04:05.2Z   stderr: oops","no prefix"]}`
	res, reqs = f.run(t, wskOK(logs), "activation", "logs", wskActID)
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/activations/"+wskActID+"/logs", reqs[0].URI)
	require.Equal(t, "2024-01-02T03:04:05.123456789Z stdout: hi there\n2024-01-02T03:04:05.2Z   stderr: oops\nno prefix\n", res.stdout)
	res, _ = f.run(t, wskOK(logs), "activation", "logs", "--strip", wskActID)
	require.NoError(t, res.err)
	require.Equal(t, "hi there\noops\nno prefix\n", res.stdout)

	res, reqs = f.run(t, wskOK(`{"result":{"x":[1]},"success":true,"status":"success"}`), "activation", "result", wskActID)
	require.NoError(t, res.err)
	require.Equal(t, "/api/v1/namespaces/_/activations/"+wskActID+"/result", reqs[0].URI)
	require.Equal(t, "{\n    \"x\": [\n        1\n    ]\n}\n", res.stdout)

	res, _ = f.run(t, []wskAnswer{{404, nil, wskNotFound}}, "activation", "logs", "nope")
	require.EqualError(t, res.err, "Unable to get logs for activation 'nope': The requested resource does not exist. (code "+wskTxID+")")

	for _, args := range [][]string{
		{"activation", "get"},
		{"activation", "get", wskActID, "--last"},
		{"activation", "result", "a", "b"},
		{"activation", "list", "--since", "yesterday"},
	} {
		res, reqs := f.run(t, nil, args...)
		require.Equal(t, 2, res.code(), args)
		require.Contains(t, res.stderr, "Usage:", args)
		require.Empty(t, reqs, args)
	}
}

func TestCLIWskHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		has  []string
	}{
		{[]string{"action"}, []string{"create", "update", "invoke", "--apihost HOST", "-u, --auth KEY", "-i, --insecure"}},
		{[]string{"action", "create", "--help"}, []string{"-p, --param KEY VALUE", "-P, --param-file FILE", "-a, --annotation KEY VALUE", "--docker IMAGE", "-t, --timeout LIMIT", "--apihost HOST"}},
		{[]string{"action", "invoke", "-h"}, []string{"-p, --param KEY VALUE", "-r, --result", "-b, --blocking"}},
		{[]string{"help", "action", "update"}, []string{"--del-annotation KEY"}},
		{[]string{"activation", "--help"}, []string{"list", "logs", "result", "--namespace"}},
		{[]string{"activation", "logs", "--help"}, []string{"-r, --strip", "-l, --last"}},
	} {
		res := run(t, tc.args...)
		require.NoError(t, res.err, tc.args)
		require.Empty(t, res.stderr, tc.args)
		for _, h := range tc.has {
			require.Contains(t, res.stdout, h, tc.args)
		}
	}
	res := run(t, "action", "invok")
	require.Equal(t, 2, res.code())
	require.ErrorContains(t, res.err, `(did you mean "invoke"?)`)
}
