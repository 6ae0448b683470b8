package e2e

// Hostile input against the real `marvel standalone`: oversized and lying
// bodies, malformed JSON and UTF-8, names built to escape, archives built to
// escape or explode, bad credentials, and one namespace probing another's
// data. After each group the server must still serve a normal invoke.
//
// What other tests already cover is not repeated here: 401 with the
// challenge for a missing, wrong or unknown key on GET (TestInfoAndAuth);
// 403/404 for another namespace's actions and activations by path, by "_"
// and by id (TestNamespaceSeparation); 413 for oversized action parameters
// and invoke parameters, 400 for a body that is not JSON, names with '@',
// '%2F' or over 256 characters (TestActionRequestErrors); another
// namespace's job region (TestJobRegions); the kernel refusing another
// namespace's region and files under --isolate (TestIsolation).

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileWait bounds how long the server may take to refuse a request whose
// body it should never read.
const hostileWait = 10 * time.Second

// TestHostileBodies: bodies over the API's bounds get 413 with a message
// naming the bound, a body declared huge is refused from its header without
// being read, and malformed JSON or UTF-8 gets 400 (or is taken as JSON
// takes it), never a 5xx; the server then still invokes.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "echo", "probe", nil)

	// A whole action PUT over MaxActionBytes (50 MB), sent in full.
	big := `{"exec":{"kind":"go:default","code":"` + strings.Repeat("A", 50<<20) + `"}}`
	r := s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/huge", big)
	wantError(t, "action PUT over 50 MB", r, http.StatusRequestEntityTooLarge, "")
	if msg := errorText(r); !strings.Contains(msg, "too large") || !strings.Contains(msg, "52428800") {
		t.Errorf("action PUT over 50 MB: %q, want the bound named", msg)
	}
	// Code over MaxCodeBytes (48 MB) inside a body under 50 MB.
	code := `{"exec":{"kind":"go:default","code":"` + strings.Repeat("A", 48<<20+4) + `"}}`
	r = s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/hugecode", code)
	wantError(t, "code over 48 MB", r, http.StatusRequestEntityTooLarge, "")
	if msg := errorText(r); !strings.Contains(msg, "50331648") {
		t.Errorf("code over 48 MB: %q, want the bound named", msg)
	}

	// Declared huge, never sent: the header alone must get the answer.
	for _, c := range []struct{ what, method, path, auth string }{
		{"action PUT", http.MethodPut, "/api/v1/namespaces/_/actions/liar", guestKey},
		{"invoke", http.MethodPost, "/api/v1/namespaces/_/actions/echo?blocking=true", guestKey},
	} {
		status, body := s.rawHeaderOnly(t, c.method, c.path, c.auth, 1<<40)
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s declaring 1 TiB: status %d %s, want 413 at once", c.what, status, body)
		} else if !strings.Contains(body, "too large") {
			t.Errorf("%s declaring 1 TiB: %s, want a message", c.what, body)
		}
	}
	// Without credentials, the challenge comes first, body unread.
	status, body := s.rawHeaderOnly(t, http.MethodPut, "/api/v1/namespaces/_/actions/liar", "", 1<<40)
	if status != http.StatusUnauthorized {
		t.Errorf("unauthenticated PUT declaring 1 TiB: status %d %s, want 401", status, body)
	}

	// Malformed JSON: 400 with an error body, for PUT and invoke.
	for _, b := range []string{"{", "[", `"just a string"`, "nul", `{"exec":`, "\x00\x01\x02", `{"a":1}{"b":2}`, strings.Repeat("[", 100000), "null", "[1,2]"} {
		if b != "null" && b != "[1,2]" {
			wantError(t, fmt.Sprintf("PUT %.20q", b), s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/bad", b), http.StatusBadRequest, "")
		}
		wantError(t, fmt.Sprintf("invoke %.20q", b), s.guest(t, http.MethodPost, "/api/v1/namespaces/_/actions/echo?blocking=true", b), http.StatusBadRequest, "")
	}
	wantError(t, "PUT exec of the wrong type", s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/bad", `{"exec":{"kind":5}}`), http.StatusBadRequest, "")
	// Invalid UTF-8 inside JSON strings: taken as Go's JSON takes it (each
	// bad byte becomes U+FFFD) or refused; never a 5xx, and whatever comes
	// back is valid JSON.
	for _, c := range []struct{ what, method, path, body string }{
		{"PUT annotations", http.MethodPut, "/api/v1/namespaces/_/actions/utf?overwrite=true",
			`{"exec":{"kind":"go:default","code":"` + actionZip["probe"] + `"},"annotations":[{"key":"d\xff","value":"\xfe\xfd"}]}`},
		{"PUT parameters", http.MethodPut, "/api/v1/namespaces/_/actions/utf?overwrite=true",
			`{"parameters":[{"key":"k","value":"\xc3\x28"}]}`},
		{"invoke", http.MethodPost, "/api/v1/namespaces/_/actions/echo?blocking=true&result=true", `{"op":"echo","s":"\xff\xfe","t":"\xed\xa0\x80"}`},
		{"invoke utf", http.MethodPost, "/api/v1/namespaces/_/actions/utf?blocking=true&result=true", `{"op":"echo"}`},
	} {
		r := s.guest(t, c.method, c.path, c.body)
		if r.status >= 500 && !(c.what == "invoke utf" && r.status == http.StatusBadGateway) {
			t.Errorf("%s with invalid UTF-8: %s, want no 5xx", c.what, r)
		}
		if !json.Valid(r.body) {
			t.Errorf("%s with invalid UTF-8: the reply is not valid JSON: %q", c.what, r.body)
		}
	}
	// Invalid UTF-8 and control bytes in names and query values.
	for _, p := range []string{
		"/api/v1/namespaces/_/actions/%FF", "/api/v1/namespaces/_/actions/a%C3%28b",
		"/api/v1/namespaces/_/actions/a%00b", "/api/v1/namespaces/_/actions/a%0Ab",
	} {
		wantError(t, "PUT "+p, s.guest(t, http.MethodPut, p, `{"exec":{"kind":"go:default","code":"`+actionZip["echo"]+`"}}`), http.StatusBadRequest, "")
		if r := s.guest(t, http.MethodGet, p, nil); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 400 or 404", p, r)
		}
	}
	for _, q := range []string{"limit=%FF", "skip=-1", "since=%00", "limit=99999999999999999999", "name=%FF%FE"} {
		if r := s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations?"+q, nil); r.status >= 500 || !json.Valid(r.body) {
			t.Errorf("activations?%s: %s", q, r)
		}
	}
	for _, q := range []string{"timeout=-5", "timeout=%FF", "timeout=99999999999999999999"} {
		wantError(t, "invoke "+q, s.invoke(t, "echo", "blocking=true&"+q, nil), http.StatusBadRequest, "")
	}

	s.wantServes(t)
}

// TestHostileNames: action, namespace, activation and job names that try to
// leave their place — "..", encoded dots and slashes, NUL, backslashes —
// are refused or stay plain names inside the caller's namespace: nothing is
// created outside the records directory, and another namespace is never
// reached.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	s := startStandalone(t, data)
	s.mustPut(t, "secret", "probe", map[string]any{"parameters": []any{map[string]any{"key": "token", "value": "guest-secret-parameter"}}})
	r := s.invoke(t, "secret", "blocking=true", map[string]any{"op": "echo", "note": "guest-secret-result"})
	wantStatus(t, "guest invokes secret", r, http.StatusOK)
	id := r.header.Get("x-openwhisk-activation-id")
	before := tree(t, filepath.Dir(data))

	code := map[string]any{"exec": map[string]any{"kind": "go:default", "code": actionZip["echo"]}}
	// Refused names: 400 on PUT.
	for _, n := range []string{
		"..%2F..%2Fetc", "%2e%2e%2f%2e%2e%2fetc", "a%2F..%2F..%2Fb", "%2F", "%00", "..%00", "a%00%2e%2e",
		"..%5C..%5Cwindows", "%2e%2e%5c", "@..", "a%0D%0Ab", "trailing.%20", "%20lead",
	} {
		wantError(t, "PUT name "+n, s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/"+n, code), http.StatusBadRequest, "")
	}
	// "." and "..", plain or encoded: whisk.ValidName takes them, but no
	// runtime would (proxy.NewIdentity), so the API refuses them too.
	for _, n := range []string{"..", "%2e%2e", "%2E%2E", ".", "%2e", ".%2e"} {
		wantError(t, "PUT name "+n, s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/"+n, code), http.StatusBadRequest, "")
	}
	// Other names with dots are names: actions of guest, named so, whose
	// records stay below the records directory.
	for _, n := range []string{"...", ".hidden", "a..b", "..%20.."} {
		r := s.guest(t, http.MethodPut, "/api/v1/namespaces/_/actions/"+n+"?overwrite=true", code)
		wantStatus(t, "PUT name "+n, r, http.StatusOK)
		name, _ := url.PathUnescape(n)
		if a := object(t, "PUT "+n, r); a["name"] != name || a["namespace"] != "guest" {
			t.Errorf("PUT name %s: stored as %v/%v, want guest/%s", n, a["namespace"], a["name"], name)
		}
		if got := s.result(t, n, map[string]any{"x": 1}); got["x"] != 1.0 {
			t.Errorf("invoke %s: %v", n, got)
		}
		wantStatus(t, "DELETE "+n, s.guest(t, http.MethodDelete, "/api/v1/namespaces/_/actions/"+n, nil), http.StatusOK)
	}
	after := tree(t, filepath.Dir(data))
	for p := range after {
		if before[p] {
			continue
		}
		rel, _ := filepath.Rel(filepath.Dir(data), p)
		if !strings.HasPrefix(rel, "data/.invoker/") && !strings.HasPrefix(rel, "data/.action-cache/") && !strings.HasPrefix(rel, "data/fn+guest+") && !strings.HasPrefix(rel, "data/fs/") && !strings.HasPrefix(rel, "data/.uids") {
			t.Errorf("hostile names created %s", rel)
		}
	}

	// Namespaces in the path: encodings of "guest" or climbs to it, as
	// "other": never guest's data.
	secrets := []string{"guest-secret-parameter", "guest-secret-result"}
	for _, p := range []string{
		"/api/v1/namespaces/%67uest/actions/secret", "/api/v1/namespaces/other%2F..%2Fguest/actions/secret",
		"/api/v1/namespaces/_%2F..%2Fguest/actions/secret", "/api/v1/namespaces/other/../guest/actions/secret",
		"/api/v1/namespaces/guest%00/actions/secret", "/api/v1/namespaces/GUEST/actions/secret",
		"/api/v1/namespaces/_/actions/..%2Fguest%2Fsecret", "/api/v1/namespaces/_/actions/guest%2Fsecret",
		"/api/v1/namespaces/_/actions/%2Fguest%2Fsecret", "/api/v1/namespaces/%5F/actions/secret",
		"/api/v1/namespaces/%2e%2e/actions/secret", "/api/v1/namespaces/%67uest/activations/" + id,
		"/api/v1/namespaces/_/activations/" + strings.ToUpper(id), "/api/v1/namespaces/_/activations/" + id + "%00",
		"/api/v1/namespaces/_/activations/..%2F" + id, "/api/v1/namespaces/_/activations/" + id + "/..%2Flogs",
		"/api/v1/namespaces/_/activations?name=secret&docs=true", "/api/v1/namespaces/_/activations?name=%2Fguest%2Fsecret&docs=true",
		"/api/v1/namespaces/_/activations?name=..%2Fguest%2Fsecret&docs=true", "/api/v1/namespaces/_/actions?limit=200",
		"/api/v1/namespaces/%67uest/regions", "/api/v1/namespaces/_/regions",
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if m == http.MethodPost && !strings.Contains(p, "/actions/") {
				continue
			}
			var body any
			if m == http.MethodPost {
				body = map[string]any{}
			}
			r, err := s.try(otherKey, m, p+sep(p)+"blocking=true&result=true", body)
			if err != nil {
				t.Errorf("other %s %s: %v", m, p, err)
				continue
			}
			if r.status == http.StatusOK && strings.Contains(p, "/actions/") {
				t.Errorf("other %s %s: %s, want a refusal", m, p, r)
			}
			if r.status >= 500 {
				t.Errorf("other %s %s: %s, want no 5xx", m, p, r)
			}
			for _, sec := range secrets {
				if bytes.Contains(r.body, []byte(sec)) {
					t.Errorf("other %s %s: the reply holds guest's %s: %s", m, p, sec, r)
				}
			}
		}
	}

	// Job names: the same rules; invalid names are the caller's fault.
	for _, j := range []string{"..%2F..%2Fescape", "%2e%2e%2fx", "a%00b", "%2F", "..%5Cx", "@x"} {
		for _, m := range []string{http.MethodPut, http.MethodDelete} {
			r := s.guest(t, m, "/api/v1/namespaces/_/regions/"+j+"?size=65536", nil)
			if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
				t.Errorf("%s job %s: %s, want 400 or 404", m, j, r)
			}
		}
	}
	wantStatus(t, "guest's own job", s.guest(t, http.MethodPut, "/api/v1/namespaces/_/regions/sort-1?size=65536", nil), http.StatusOK)
	// "other" asking for a job of the same name gets its own region, not
	// guest's.
	r = s.do(t, otherKey, http.MethodPut, "/api/v1/namespaces/_/regions/sort-1?size=65536", nil)
	wantStatus(t, "other's job of the same name", r, http.StatusOK)
	if m := object(t, "other's job", r); m["region"] != "job+other+sort-1" || m["namespace"] != otherNS {
		t.Errorf("other's job of the same name: %s", r)
	}
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodGet} {
		p := "/api/v1/namespaces/guest/regions/sort-1"
		if m == http.MethodGet {
			p = "/api/v1/namespaces/guest/regions"
		}
		r := s.do(t, otherKey, m, p, nil)
		wantError(t, "other "+m+" "+p, r, http.StatusForbidden, "")
		if bytes.Contains(r.body, []byte("job+guest")) {
			t.Errorf("other %s %s: %s", m, p, r)
		}
	}
	if l := array(t, "guest's jobs", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/regions", nil)); len(l) != 1 {
		t.Errorf("guest's jobs after other's attempts: %v", l)
	}

	s.wantServes(t)
}

// TestHostileArchives: action code built to escape the action directory or
// to explode when unpacked is refused by /init with a message naming the
// entry and the rule (a developer error, 502); nothing is written outside
// the instance's work directory, and the server goes on serving.
func TestHostileArchives(t *testing.T) {
	t.Parallel()
	data := newDataDir(t)
	s := startStandalone(t, data)
	token := "marvel-hostile-" + randHex(t)
	exe := []byte("#!/bin/sh\nexit 0\n")
	cases := []struct {
		name, payload, want string
	}{
		{"zipslip", zipOf(t, zent{name: "exec", body: exe, mode: 0o755}, zent{name: "../../../../" + token, body: []byte("x")}), "zip-slip"},
		{"zipabs", zipOf(t, zent{name: "exec", body: exe, mode: 0o755}, zent{name: "/tmp/" + token, body: []byte("x")}), token},
		{"zipbackslash", zipOf(t, zent{name: "exec", body: exe, mode: 0o755}, zent{name: `..\..\` + token, body: []byte("x")}), token},
		{"zipnul", zipOf(t, zent{name: "exec", body: exe, mode: 0o755}, zent{name: "a\x00/../../" + token, body: []byte("x")}), ""},
		{"ziplink", zipOf(t, zent{name: "exec", body: []byte("/etc/passwd"), mode: os.ModeSymlink | 0o777}), "symbolic link"},
		{"zipdeclared", zipOf(t, zent{name: "exec", body: exe, mode: 0o755, declared: 300 << 20}), "MaxFileBytes"},
		{"zipliar", zipOf(t, zent{name: "exec", body: make([]byte, 64<<20), mode: 0o755, declared: 1000}), "exec"},
		{"zipmany", zipMany(t, 10001), "MaxFiles"},
		{"tarslip", tarGzOf(t, tent{name: "exec", body: exe, mode: 0o755}, tent{name: "../" + token, body: []byte("x"), mode: 0o644}), token},
		{"tarlink", tarGzOf(t, tent{name: "exec", link: "/etc/passwd"}), "symbolic link"},
		{"tarhard", tarGzOf(t, tent{name: "exec", body: exe, mode: 0o755}, tent{name: "h", hard: "../../../../etc/passwd"}), "hard link"},
		{"tardeclared", tarGzOf(t, tent{name: "exec", mode: 0o755, size: 300 << 20}), "MaxFileBytes"},
		{"tardevice", tarGzOf(t, tent{name: "exec", body: exe, mode: 0o755}, tent{name: "null", char: true}), "not a regular file"},
	}
	for _, c := range cases {
		name := "bad-" + c.name
		s.mustPut(t, name, "echo", map[string]any{"exec": map[string]any{"kind": "go:default", "code": c.payload}})
		r := s.invoke(t, name, "blocking=true&result=true", nil)
		wantStatus(t, "invoke "+name, r, http.StatusBadGateway)
		msg := errorText(r)
		if !strings.Contains(msg, "cannot unpack the action") || !strings.Contains(msg, c.want) {
			t.Errorf("invoke %s: %q, want a refusal to unpack naming %q", name, msg, c.want)
		}
	}
	// Nothing named token anywhere the runtime could have reached: the
	// test's temporary trees in full, and every directory above them.
	testRoot := filepath.Dir(filepath.Dir(data))
	filepath.WalkDir(testRoot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), token) {
			t.Errorf("a hostile archive wrote %s", p)
		}
		return nil
	})
	for _, start := range []string{s.tmp, os.TempDir(), "/tmp"} {
		for d := start; ; d = filepath.Dir(d) {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				if strings.Contains(e.Name(), token) {
					t.Errorf("a hostile archive wrote %s", filepath.Join(d, e.Name()))
				}
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	s.wantServes(t)
}

// TestHostileCredentials: malformed Authorization headers get 401 with the
// challenge on every method and resource, and run nothing.
func TestHostileCredentials(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	s.mustPut(t, "echo", "echo", nil)
	uuid, key, _ := strings.Cut(guestKey, ":")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	headers := []string{
		"Basic", "Basic ", "Basic !!!not-base64!!!", "Bearer " + key, "basic " + b64(uuid),
		"Basic " + b64(uuid), "Basic " + b64(uuid+":"), "Basic " + b64(":"+key), "Basic " + b64(uuid+":"+key+"x"),
		"Basic " + b64(uuid+":"+key[:63]), "Basic " + b64(uuid+":"+key+"\x00"), "Basic " + b64(uuid+"\x00:"+key),
		"Basic " + b64(strings.ToUpper(uuid)+":"+key), "Basic " + b64(uuid+":"+strings.ToUpper(key)),
		"Basic " + b64(uuid+" :"+key), "Basic " + b64(strings.Repeat("a", 6000)+":"+key),
		"Basic " + b64(otherKey[:strings.IndexByte(otherKey, ':')]+":"+key),
	}
	paths := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/namespaces"},
		{http.MethodPut, "/api/v1/namespaces/_/actions/planted"},
		{http.MethodPost, "/api/v1/namespaces/_/actions/echo?blocking=true"},
		{http.MethodDelete, "/api/v1/namespaces/_/actions/echo"},
		{http.MethodGet, "/api/v1/namespaces/guest/activations"},
		{http.MethodPut, "/api/v1/namespaces/_/regions/job"},
	}
	for _, h := range headers {
		for _, p := range paths {
			var body io.Reader
			if p.method == http.MethodPut || p.method == http.MethodPost {
				body = strings.NewReader(`{"exec":{"kind":"go:default","code":"` + actionZip["echo"] + `"}}`)
			}
			req, err := http.NewRequest(p.method, s.host+p.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", h)
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", p.method, p.path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := reply{status: resp.StatusCode, header: resp.Header, body: b}
			wantError(t, fmt.Sprintf("%s %s with Authorization %.40q", p.method, p.path, h), r, http.StatusUnauthorized, "The supplied authentication is invalid")
			if c := resp.Header.Get("WWW-Authenticate"); c != `Basic realm="OpenWhisk secure realm"` {
				t.Errorf("%s %s with Authorization %.40q: challenge %q", p.method, p.path, h, c)
			}
		}
	}
	// Nothing ran, nothing was created or deleted.
	if l := array(t, "activations", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/activations", nil)); len(l) != 0 {
		t.Errorf("unauthenticated requests ran activations: %v", l)
	}
	if l := array(t, "actions", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/actions", nil)); len(l) != 1 {
		t.Errorf("unauthenticated requests changed the actions: %v", l)
	}
	if l := array(t, "jobs", s.guest(t, http.MethodGet, "/api/v1/namespaces/_/regions", nil)); len(l) != 0 {
		t.Errorf("unauthenticated requests granted regions: %v", l)
	}
	s.wantServes(t)
}

// wantServes checks that the server still creates and invokes an action.
func (s *standalone) wantServes(t *testing.T) {
	t.Helper()
	name := "alive-" + randHex(t)[:8]
	s.mustPut(t, name, "echo", nil)
	if got := s.result(t, name, map[string]any{"still": "here"}); got["still"] != "here" {
		t.Errorf("after hostile input, a normal invoke answered %v", got)
	}
}

// rawHeaderOnly sends method path with a Content-Length of n and no body,
// and reads the answer within hostileWait: the server must answer from the
// header alone.
func (s *standalone) rawHeaderOnly(t *testing.T, method, path, auth string, n int64) (int, string) {
	t.Helper()
	u, err := url.Parse(s.host)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hostileWait))
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, u.Host, n)
	if auth != "" {
		req += "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(auth)) + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n{"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, fmt.Sprintf("(no answer within %v: %v)", hostileWait, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// errorText is the "error" of a JSON error reply.
func errorText(r reply) string {
	var m map[string]any
	json.Unmarshal(r.body, &m)
	s, _ := m["error"].(string)
	return s
}

func sep(p string) string {
	if strings.Contains(p, "?") {
		return "&"
	}
	return "?"
}

func randHex(t testing.TB) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// tree lists the paths below root.
func tree(t testing.TB, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			out[p] = true
		}
		return nil
	})
	return out
}

// zent is a zip entry; declared, if set, is the uncompressed size the
// header claims (the entry is then written raw, deflated).
type zent struct {
	name     string
	body     []byte
	mode     os.FileMode
	declared uint64
}

// zipOf returns the base64 of a zip of entries.
func zipOf(t testing.TB, entries ...zent) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		h.SetMode(e.mode)
		if e.mode == 0 {
			h.SetMode(0o644)
		}
		if e.declared == 0 {
			w, err := zw.CreateHeader(h)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.body)
			continue
		}
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		fw.Write(e.body)
		fw.Close()
		h.CRC32 = crc32.ChecksumIEEE(e.body)
		h.CompressedSize64 = uint64(comp.Len())
		h.UncompressedSize64 = e.declared
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// zipMany returns the base64 of a zip of exec and n-1 empty files.
func zipMany(t testing.TB, n int) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		h := &zip.FileHeader{Name: fmt.Sprintf("f%d", i), Method: zip.Store}
		if i == 0 {
			h.Name = "exec"
		}
		if _, err := zw.CreateHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// tent is a tar entry: a file (body, or size with no body: a header that
// lies), a symlink (link), a hard link (hard) or a character device.
type tent struct {
	name       string
	body       []byte
	mode       int64
	size       int64
	link, hard string
	char       bool
}

// tarGzOf returns the base64 of a gzipped tar of entries.
func tarGzOf(t testing.TB, entries ...tent) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname, h.Mode, h.Size = tar.TypeSymlink, e.link, 0o777, 0
		case e.hard != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.hard, 0
		case e.char:
			h.Typeflag, h.Devmajor, h.Devminor, h.Mode, h.Size = tar.TypeChar, 1, 3, 0o666, 0
		case e.size > 0:
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.size > 0 {
			break // the header claims the body; none follows
		}
		tw.Write(e.body)
	}
	tw.Flush()
	gz.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
