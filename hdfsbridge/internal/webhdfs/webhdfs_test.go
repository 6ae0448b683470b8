package webhdfs

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
)

const testBlockSize = 64 << 10

var testGroups = map[string][]string{
	"root":  {"root"},
	"alice": {"alice", "staff"},
	"bob":   {"bob"},
}

type env struct {
	t        *testing.T
	fs       *namesys.FS
	s        *Server
	srv      *httptest.Server
	follow   *http.Client // follows the 307s of the two-step ops
	nofollow *http.Client
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	fs, err := namesys.Open(namesys.Config{
		Root:      t.TempDir(),
		Superuser: "root",
		BlockSize: testBlockSize,
		ListLimit: 4, // listings of more than 4 entries take several pages
		Groups:    func(u string) []string { return testGroups[u] },
	})
	require.NoError(t, err)
	t.Cleanup(func() { fs.Close() })
	s := New(fs, opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e := &env{t: t, fs: fs, s: s, srv: srv,
		follow: &http.Client{Timeout: time.Minute},
		nofollow: &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	// /user/alice belongs to alice.
	e.okBool(e.do(e.follow, "PUT", e.url("/user/alice", "MKDIRS", "user.name", "root"), nil), true)
	e.ok(e.do(e.follow, "PUT", e.url("/user/alice", "SETOWNER", "user.name", "root", "owner", "alice", "group", "staff"), nil))
	return e
}

// url is the WebHDFS URL of p with op and key/value parameters.
func (e *env) url(p, op string, kv ...string) string {
	v := url.Values{}
	if op != "" {
		v.Set("op", op)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return e.srv.URL + Prefix + (&url.URL{Path: p}).EscapedPath() + "?" + v.Encode()
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(c *http.Client, method, u string, body []byte) reply {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	require.NoError(e.t, err)
	resp, err := c.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// decode parses a JSON reply keeping numbers exact.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m), "body %s", b)
	return m
}

func (e *env) ok(r reply) reply {
	e.t.Helper()
	require.Equal(e.t, http.StatusOK, r.status, "body %s", r.body)
	return r
}

func (e *env) okJSON(r reply) map[string]any {
	e.t.Helper()
	e.ok(r)
	require.Equal(e.t, "application/json", r.header.Get("Content-Type"))
	return decode(e.t, r.body)
}

func (e *env) okBool(r reply, want bool) {
	e.t.Helper()
	m := e.okJSON(r)
	require.Equal(e.t, map[string]any{"boolean": want}, m)
}

// remote checks a RemoteException reply.
func (e *env) remote(r reply, status int, javaClass string) string {
	e.t.Helper()
	require.Equal(e.t, status, r.status, "body %s", r.body)
	m := decode(e.t, r.body)
	require.Len(e.t, m, 1)
	re, ok := m["RemoteException"].(map[string]any)
	require.True(e.t, ok, "body %s", r.body)
	require.Len(e.t, re, 3, "body %s", r.body)
	require.Equal(e.t, javaClass, re["javaClassName"])
	require.Equal(e.t, javaClass[strings.LastIndex(javaClass, ".")+1:], re["exception"])
	msg, _ := re["message"].(string)
	require.NotEmpty(e.t, msg)
	return msg
}

func (e *env) create(p, user string, data []byte, kv ...string) reply {
	e.t.Helper()
	return e.do(e.follow, "PUT", e.url(p, "CREATE", append([]string{"user.name", user}, kv...)...), data)
}

func (e *env) read(p, user string, kv ...string) []byte {
	e.t.Helper()
	r := e.ok(e.do(e.follow, "GET", e.url(p, "OPEN", append([]string{"user.name", user}, kv...)...), nil))
	require.Equal(e.t, "application/octet-stream", r.header.Get("Content-Type"))
	return r.body
}

func (e *env) status(p, user string) map[string]any {
	e.t.Helper()
	m := e.okJSON(e.do(e.follow, "GET", e.url(p, "GETFILESTATUS", "user.name", user), nil))
	require.Len(e.t, m, 1)
	fs, ok := m["FileStatus"].(map[string]any)
	require.True(e.t, ok)
	return fs
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v (%T) is not a number", v, v)
	i, err := n.Int64()
	require.NoError(t, err, "%v is not an integer", v)
	return i
}

var fileStatusKeys = []string{"accessTime", "blockSize", "childrenNum", "fileId", "group", "length",
	"modificationTime", "owner", "pathSuffix", "permission", "replication", "storagePolicy", "type"}

func requireKeys(t *testing.T, m map[string]any, keys []string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	require.Equal(t, keys, got)
}

func TestFileStatusShape(t *testing.T) {
	e := newEnv(t, Options{})
	data := randBytes(1000, 1)
	r := e.create("/user/alice/f", "alice", data, "permission", "640")
	require.Equal(t, http.StatusCreated, r.status, "body %s", r.body)

	st := e.status("/user/alice/f", "alice")
	requireKeys(t, st, fileStatusKeys)
	var host syscall.Stat_t
	p, err := namesys.ParsePath("/user/alice/f")
	require.NoError(t, err)
	require.NoError(t, syscall.Stat(e.fs.HostPath(p), &host))
	require.Equal(t, int64(host.Atim.Sec*1000+host.Atim.Nsec/1e6), num(t, st["accessTime"]))
	require.Equal(t, int64(testBlockSize), num(t, st["blockSize"]))
	require.Equal(t, int64(0), num(t, st["childrenNum"]))
	require.Equal(t, int64(host.Ino), num(t, st["fileId"]))
	require.Equal(t, "staff", st["group"]) // the parent's group
	require.Equal(t, int64(1000), num(t, st["length"]))
	require.Equal(t, int64(host.Mtim.Sec*1000+host.Mtim.Nsec/1e6), num(t, st["modificationTime"]))
	require.Equal(t, "alice", st["owner"])
	require.Equal(t, "", st["pathSuffix"])
	require.Equal(t, "640", st["permission"])
	require.Equal(t, int64(1), num(t, st["replication"]))
	require.Equal(t, int64(0), num(t, st["storagePolicy"]))
	require.Equal(t, "FILE", st["type"])

	d := e.status("/user/alice", "bob")
	requireKeys(t, d, fileStatusKeys)
	require.Equal(t, "DIRECTORY", d["type"])
	require.Equal(t, int64(0), num(t, d["blockSize"]))
	require.Equal(t, int64(0), num(t, d["length"]))
	require.Equal(t, int64(0), num(t, d["replication"]))
	require.Equal(t, int64(1), num(t, d["childrenNum"]))
	require.Equal(t, "755", d["permission"])
	require.Equal(t, "alice", d["owner"])

	// The sticky bit shows as the fourth digit; op and names are
	// case-insensitive.
	e.ok(e.do(e.follow, "PUT", e.url("/user/alice", "setpermission", "USER.NAME", "alice", "Permission", "1777"), nil))
	require.Equal(t, "1777", e.status("/user/alice", "alice")["permission"])
	require.Equal(t, "", e.status("/", "alice")["pathSuffix"])
}

func TestListStatus(t *testing.T) {
	e := newEnv(t, Options{})
	var names []string
	for i := range 10 {
		name := fmt.Sprintf("f%02d", 9-i)
		names = append(names, name)
		require.Equal(t, http.StatusCreated, e.create("/user/alice/d/"+name, "alice", []byte(name)).status)
	}
	e.okBool(e.do(e.follow, "PUT", e.url("/user/alice/d/sub", "MKDIRS", "user.name", "alice"), nil), true)
	names = append(names, "sub")
	sort.Strings(names)

	// All pages (the list limit is 4), in byte order; lower-case op.
	m := e.okJSON(e.do(e.follow, "GET", e.url("/user/alice/d", "liststatus", "user.name", "alice"), nil))
	require.Len(t, m, 1)
	list := m["FileStatuses"].(map[string]any)["FileStatus"].([]any)
	require.Len(t, list, len(names))
	for i, x := range list {
		st := x.(map[string]any)
		requireKeys(t, st, fileStatusKeys)
		require.Equal(t, names[i], st["pathSuffix"])
		if names[i] == "sub" {
			require.Equal(t, "DIRECTORY", st["type"])
		} else {
			require.Equal(t, "FILE", st["type"])
			require.Equal(t, int64(3), num(t, st["length"]))
		}
	}

	// A file lists itself with an empty suffix.
	m = e.okJSON(e.do(e.follow, "GET", e.url("/user/alice/d/f03", "LISTSTATUS", "user.name", "alice"), nil))
	list = m["FileStatuses"].(map[string]any)["FileStatus"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "", list[0].(map[string]any)["pathSuffix"])
	require.Equal(t, int64(3), num(t, list[0].(map[string]any)["length"]))

	// A directory holding one file of its own name is still a directory.
	require.Equal(t, http.StatusCreated, e.create("/user/alice/x/x", "alice", []byte("x")).status)
	m = e.okJSON(e.do(e.follow, "GET", e.url("/user/alice/x", "LISTSTATUS", "user.name", "alice"), nil))
	list = m["FileStatuses"].(map[string]any)["FileStatus"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "x", list[0].(map[string]any)["pathSuffix"])

	// An empty directory is an empty array, not null.
	m = e.okJSON(e.do(e.follow, "GET", e.url("/user/alice/d/sub", "LISTSTATUS", "user.name", "alice"), nil))
	require.Equal(t, []any{}, m["FileStatuses"].(map[string]any)["FileStatus"])

	// LISTSTATUS_BATCH pages with startAfter.
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		m := e.okJSON(e.do(e.follow, "GET", e.url("/user/alice/d", "LISTSTATUS_BATCH", "user.name", "alice", "startAfter", after), nil))
		requireKeys(t, m, []string{"DirectoryListing"})
		dl := m["DirectoryListing"].(map[string]any)
		requireKeys(t, dl, []string{"partialListing", "remainingEntries"})
		page := dl["partialListing"].(map[string]any)["FileStatuses"].(map[string]any)["FileStatus"].([]any)
		for _, x := range page {
			got = append(got, x.(map[string]any)["pathSuffix"].(string))
		}
		require.Equal(t, int64(len(names)-len(got)), num(t, dl["remainingEntries"]))
		if num(t, dl["remainingEntries"]) == 0 {
			break
		}
		require.Len(t, page, 4)
		after = got[len(got)-1]
	}
	require.Equal(t, names, got)

	e.remote(e.do(e.follow, "GET", e.url("/user/alice/nope", "LISTSTATUS", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
}

func TestOpen(t *testing.T) {
	e := newEnv(t, Options{})
	data := randBytes(5*testBlockSize+777, 2) // several blocks and a partial one
	require.Equal(t, http.StatusCreated, e.create("/user/alice/big", "alice", data).status)

	// Step one: 307 to the data step on the same host, parameters kept.
	r := e.do(e.nofollow, "GET", e.url("/user/alice/big", "OPEN", "user.name", "alice", "offset", "10"), nil)
	require.Equal(t, http.StatusTemporaryRedirect, r.status, "body %s", r.body)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, strings.TrimPrefix(e.srv.URL, "http://"), loc.Host)
	require.Equal(t, Prefix+"/user/alice/big", loc.Path)
	require.Equal(t, "alice", loc.Query().Get("user.name"))
	require.Equal(t, "10", loc.Query().Get("offset"))
	require.Equal(t, "OPEN", loc.Query().Get("op"))
	// The data step answers directly.
	r = e.do(e.nofollow, "GET", loc.String(), nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, data[10:], r.body)

	// noredirect=true: 200 and the Location in JSON.
	m := e.okJSON(e.do(e.nofollow, "GET", e.url("/user/alice/big", "OPEN", "user.name", "alice", "noredirect", "true"), nil))
	requireKeys(t, m, []string{"Location"})
	r = e.do(e.nofollow, "GET", m["Location"].(string), nil)
	require.Equal(t, data, r.body)

	// The whole file, byte-exactly, and ranges.
	require.Equal(t, data, e.read("/user/alice/big", "alice"))
	require.Equal(t, data[testBlockSize-5:testBlockSize+1000], e.read("/user/alice/big", "alice", "offset", fmt.Sprint(testBlockSize-5), "length", "1005"))
	require.Equal(t, data[len(data)-7:], e.read("/user/alice/big", "alice", "offset", fmt.Sprint(len(data)-7), "length", "1000000"))
	require.Equal(t, data[:0], e.read("/user/alice/big", "alice", "length", "0"))
	require.Empty(t, e.read("/user/alice/big", "alice", "offset", fmt.Sprint(len(data))))

	// Past the end: EOFException (an IOException, 403), as Hadoop's seek.
	e.remote(e.do(e.follow, "GET", e.url("/user/alice/big", "OPEN", "user.name", "alice", "offset", fmt.Sprint(len(data)+1)), nil), 403, "java.io.EOFException")
	// Bad numbers: 400.
	for _, bad := range []string{"-1", "1e3", "+5", " 5", "0x10", "99999999999999999999", ""} {
		msg := e.remote(e.do(e.follow, "GET", e.url("/user/alice/big", "OPEN", "user.name", "alice", "offset", bad), nil), 400, classIllegalArgument)
		require.Contains(t, msg, `"offset"`)
	}
	// Missing: 404 at the first step; unreadable: 403; a directory: 404.
	e.remote(e.do(e.nofollow, "GET", e.url("/user/alice/nope", "OPEN", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
	e.ok(e.do(e.follow, "PUT", e.url("/user/alice/big", "SETPERMISSION", "user.name", "alice", "permission", "600"), nil))
	msg := e.remote(e.do(e.follow, "GET", e.url("/user/alice/big", "OPEN", "user.name", "bob"), nil), 403, namesys.ClassAccessControl)
	require.Contains(t, msg, "user=bob")
	e.remote(e.do(e.follow, "GET", e.url("/user/alice", "OPEN", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
}

func TestOpenDataURL(t *testing.T) {
	e := newEnv(t, Options{DataURL: "http://datanode.example:9864/"})
	p, err := namesys.ParsePath("/user/alice/a b")
	require.NoError(t, err)
	_, err = e.fs.WriteFile(e.fs.UserOf("alice"), p, namesys.CreateOptions{Perm: 0o644}, strings.NewReader("x"))
	require.NoError(t, err)
	r := e.do(e.nofollow, "GET", e.url("/user/alice/a b", "OPEN", "user.name", "alice"), nil)
	require.Equal(t, http.StatusTemporaryRedirect, r.status)
	loc := r.header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "http://datanode.example:9864"+Prefix+"/user/alice/a%20b?"), loc)
}

func TestCreate(t *testing.T) {
	e := newEnv(t, Options{})
	u := e.url("/user/alice/new", "CREATE", "user.name", "alice")

	// Step one without a body: 307, nothing created.
	r := e.do(e.nofollow, "PUT", u, nil)
	require.Equal(t, http.StatusTemporaryRedirect, r.status)
	require.Empty(t, r.body)
	loc := r.header.Get("Location")
	require.NotEmpty(t, loc)
	e.remote(e.do(e.follow, "GET", e.url("/user/alice/new", "GETFILESTATUS", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
	m := e.okJSON(e.do(e.nofollow, "PUT", e.url("/user/alice/new", "CREATE", "user.name", "alice", "noredirect", "true"), nil))
	require.Equal(t, loc, m["Location"])

	// The data step with the body: 201, Location webhdfs://host/path, empty.
	data := randBytes(7*testBlockSize+1, 3)
	r = e.do(e.nofollow, "PUT", loc, data)
	require.Equal(t, http.StatusCreated, r.status, "body %s", r.body)
	require.Empty(t, r.body)
	require.Equal(t, "webhdfs://"+strings.TrimPrefix(e.srv.URL, "http://")+"/user/alice/new", r.header.Get("Location"))
	require.Equal(t, data, e.read("/user/alice/new", "alice"))
	st := e.status("/user/alice/new", "alice")
	require.Equal(t, "644", st["permission"]) // the default, no umask
	require.Equal(t, int64(len(data)), num(t, st["length"]))
	p, _ := namesys.ParsePath("/user/alice/new")
	host, err := os.ReadFile(e.fs.HostPath(p))
	require.NoError(t, err)
	require.Equal(t, data, host)

	// overwrite defaults to false: FileAlreadyExistsException, 403.
	e.remote(e.create("/user/alice/new", "alice", []byte("other")), 403, namesys.ClassFileAlreadyExists)
	e.remote(e.create("/user/alice/new", "alice", []byte("other"), "overwrite", "false"), 403, namesys.ClassFileAlreadyExists)
	require.Equal(t, data, e.read("/user/alice/new", "alice"))
	// overwrite=true replaces it (npm webhdfs's writeFile parameters).
	r = e.create("/user/alice/new", "alice", []byte("other"), "overwrite", "true", "permission", "0755", "replication", "3", "blocksize", "1048576", "buffersize", "4096")
	require.Equal(t, http.StatusCreated, r.status, "body %s", r.body)
	require.Equal(t, []byte("other"), e.read("/user/alice/new", "alice"))
	st = e.status("/user/alice/new", "alice")
	require.Equal(t, "755", st["permission"])
	require.Equal(t, int64(1048576), num(t, st["blockSize"]))

	// Parents are created; an empty body is an empty file.
	require.Equal(t, http.StatusCreated, e.create("/user/alice/a/b/empty", "alice", nil).status)
	require.Equal(t, int64(0), num(t, e.status("/user/alice/a/b/empty", "alice")["length"]))

	// Not allowed: bob in alice's home; bad parameters are 400 at step one.
	e.remote(e.create("/user/alice/bobs", "bob", []byte("x")), 403, namesys.ClassAccessControl)
	e.remote(e.do(e.nofollow, "PUT", e.url("/user/alice/x", "CREATE", "user.name", "alice", "permission", "888"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.nofollow, "PUT", e.url("/user/alice/x", "CREATE", "user.name", "alice", "permission", "2777"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.nofollow, "PUT", e.url("/user/alice/x", "CREATE", "user.name", "alice", "overwrite", "yes"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.nofollow, "PUT", e.url("/user/alice/x", "CREATE", "user.name", "alice", "overwrite", ""), nil), 400, classIllegalArgument)
	e.remote(e.do(e.nofollow, "PUT", e.url("/user/alice/x", "CREATE", "user.name", "alice", "replication", "0"), nil), 400, classIllegalArgument)
}

func TestMaxBody(t *testing.T) {
	e := newEnv(t, Options{MaxBodyBytes: 1000})
	require.Equal(t, http.StatusCreated, e.create("/user/alice/ok", "alice", randBytes(1000, 4)).status)
	// Declared too large: refused before anything is created.
	r := e.create("/user/alice/big", "alice", randBytes(1001, 4))
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "body %s", r.body)
	e.remote(r, http.StatusRequestEntityTooLarge, namesys.ClassIO)
	e.remote(e.do(e.follow, "GET", e.url("/user/alice/big", "GETFILESTATUS", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)

	// Undeclared (chunked) and too large: the partial file is removed.
	r1 := e.do(e.nofollow, "PUT", e.url("/user/alice/big", "CREATE", "user.name", "alice"), nil)
	req, err := http.NewRequest("PUT", r1.header.Get("Location"), io.MultiReader(bytes.NewReader(randBytes(3000, 5))))
	require.NoError(t, err)
	require.Equal(t, int64(0), req.ContentLength) // unknown length: chunked
	resp, err := e.nofollow.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	e.remote(reply{status: resp.StatusCode, header: resp.Header, body: b}, http.StatusRequestEntityTooLarge, namesys.ClassIO)
	e.remote(e.do(e.follow, "GET", e.url("/user/alice/big", "GETFILESTATUS", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)

	// APPEND is bounded too, and cut back on failure.
	r = e.do(e.follow, "POST", e.url("/user/alice/ok", "APPEND", "user.name", "alice"), randBytes(2000, 6))
	e.remote(r, http.StatusRequestEntityTooLarge, namesys.ClassIO)
	require.Equal(t, int64(1000), num(t, e.status("/user/alice/ok", "alice")["length"]))
}

func TestAppend(t *testing.T) {
	e := newEnv(t, Options{})
	a := randBytes(testBlockSize+100, 7)
	b := randBytes(2*testBlockSize+5, 8)
	require.Equal(t, http.StatusCreated, e.create("/user/alice/log", "alice", a).status)

	// Step one: 307; data step: 200, empty.
	r := e.do(e.nofollow, "POST", e.url("/user/alice/log", "APPEND", "user.name", "alice"), nil)
	require.Equal(t, http.StatusTemporaryRedirect, r.status)
	loc := r.header.Get("Location")
	r = e.do(e.nofollow, "POST", loc, b)
	require.Equal(t, http.StatusOK, r.status, "body %s", r.body)
	require.Empty(t, r.body)
	require.Equal(t, append(append([]byte{}, a...), b...), e.read("/user/alice/log", "alice"))

	// Following the redirect with the body, case-insensitive op.
	e.ok(e.do(e.follow, "POST", e.url("/user/alice/log", "append", "user.name", "alice"), []byte("tail")))
	want := append(append(append([]byte{}, a...), b...), "tail"...)
	require.Equal(t, want, e.read("/user/alice/log", "alice"))

	e.remote(e.do(e.follow, "POST", e.url("/user/alice/none", "APPEND", "user.name", "alice"), []byte("x")), 404, namesys.ClassFileNotFound)
	e.remote(e.do(e.follow, "POST", e.url("/user/alice", "APPEND", "user.name", "alice"), []byte("x")), 404, namesys.ClassFileNotFound)
	e.remote(e.do(e.follow, "POST", e.url("/user/alice/log", "APPEND", "user.name", "bob"), []byte("x")), 403, namesys.ClassAccessControl)
	require.Equal(t, want, e.read("/user/alice/log", "alice"))
}

// refChecksum computes GETFILECHECKSUM from the bytes, independently of the
// transfer package: per block, the CRC32C of each 512-byte chunk, MD5 of
// those; then the MD5 of the block MD5s zero-padded to 32 bytes (doubled
// while too small). crcPerBlock is the first block's chunk count when there
// are several blocks, else 0.
func refChecksum(data []byte, bs int) (algorithm, hexBytes string) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	var md5s []byte
	blocks, cpb := 0, 0
	for off := 0; off < len(data); off += bs {
		blk := data[off:min(off+bs, len(data))]
		var crcs []byte
		for c := 0; c < len(blk); c += 512 {
			crcs = binary.BigEndian.AppendUint32(crcs, crc32.Checksum(blk[c:min(c+512, len(blk))], tab))
		}
		sum := md5.Sum(crcs)
		md5s = append(md5s, sum[:]...)
		if blocks == 0 {
			cpb = len(crcs) / 4
		}
		blocks++
	}
	if blocks < 2 {
		cpb = 0
	}
	padded := 32
	for padded < len(md5s) {
		padded *= 2
	}
	file := md5.Sum(append(md5s, make([]byte, padded-len(md5s))...))
	out := binary.BigEndian.AppendUint32(nil, 512)
	out = binary.BigEndian.AppendUint64(out, uint64(cpb))
	out = append(out, file[:]...)
	return fmt.Sprintf("MD5-of-%dMD5-of-512CRC32C", cpb), hex.EncodeToString(out)
}

func TestFileChecksum(t *testing.T) {
	e := newEnv(t, Options{})
	get := func(p string) map[string]any {
		t.Helper()
		m := e.okJSON(e.do(e.follow, "GET", e.url(p, "GETFILECHECKSUM", "user.name", "alice"), nil))
		requireKeys(t, m, []string{"FileChecksum"})
		fc := m["FileChecksum"].(map[string]any)
		requireKeys(t, fc, []string{"algorithm", "bytes", "length"})
		require.Equal(t, int64(28), num(t, fc["length"]))
		return fc
	}
	for i, n := range []int{1, 511, 512, 513, testBlockSize, testBlockSize + 1, 3*testBlockSize + 1000, 4 * testBlockSize} {
		data := randBytes(n, uint64(100+i))
		p := fmt.Sprintf("/user/alice/sum%d", n)
		require.Equal(t, http.StatusCreated, e.create(p, "alice", data).status)
		algo, bytesHex := refChecksum(data, testBlockSize)
		fc := get(p)
		require.Equal(t, algo, fc["algorithm"], "n=%d", n)
		require.Equal(t, bytesHex, fc["bytes"], "n=%d", n)
	}
	// The vector of the notes: "bar\n" in one block.
	require.Equal(t, http.StatusCreated, e.create("/user/alice/bar", "alice", []byte("bar\n")).status)
	fc := get("/user/alice/bar")
	require.Equal(t, "MD5-of-0MD5-of-512CRC32C", fc["algorithm"])
	require.Equal(t, "00000200"+"0000000000000000"+"27c076e4987344253650d3335a5d08ce", fc["bytes"])
	// A multi-block file names crcPerBlock: 64 KiB / 512 = 128.
	require.Equal(t, "MD5-of-128MD5-of-512CRC32C", get(fmt.Sprintf("/user/alice/sum%d", 4*testBlockSize))["algorithm"])
	// An empty file is Hadoop's magic entry.
	require.Equal(t, http.StatusCreated, e.create("/user/alice/empty", "alice", nil).status)
	fc = get("/user/alice/empty")
	require.Equal(t, "MD5-of-0MD5-of-0CRC32", fc["algorithm"])
	require.Equal(t, "00000000000000000000000070bc8f4b72a86921468bf8e8441dce51", fc["bytes"])

	// Two steps, like OPEN.
	r := e.do(e.nofollow, "GET", e.url("/user/alice/bar", "GETFILECHECKSUM", "user.name", "alice"), nil)
	require.Equal(t, http.StatusTemporaryRedirect, r.status)
	require.Contains(t, r.header.Get("Location"), "op=GETFILECHECKSUM")
	e.remote(e.do(e.nofollow, "GET", e.url("/user/alice/nope", "GETFILECHECKSUM", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
	e.remote(e.do(e.follow, "GET", e.url("/user/alice", "GETFILECHECKSUM", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
}

func TestMkdirsRenameDelete(t *testing.T) {
	e := newEnv(t, Options{})
	e.okBool(e.do(e.follow, "PUT", e.url("/user/alice/a/b/c", "MKDIRS", "user.name", "alice"), nil), true)
	require.Equal(t, "755", e.status("/user/alice/a/b/c", "alice")["permission"])
	e.okBool(e.do(e.follow, "PUT", e.url("/user/alice/p", "MKDIRS", "user.name", "alice", "permission", "700"), nil), true)
	require.Equal(t, "700", e.status("/user/alice/p", "alice")["permission"])
	e.okBool(e.do(e.follow, "PUT", e.url("/user/alice/p", "MKDIRS", "user.name", "alice"), nil), true) // exists: fine
	e.remote(e.do(e.follow, "PUT", e.url("/user/alice/q", "MKDIRS", "user.name", "bob"), nil), 403, namesys.ClassAccessControl)
	require.Equal(t, http.StatusCreated, e.create("/user/alice/file", "alice", []byte("x")).status)
	e.remote(e.do(e.follow, "PUT", e.url("/user/alice/file", "MKDIRS", "user.name", "alice"), nil), 403, namesys.ClassFileAlreadyExists)

	// RENAME: false, not an error, on a missing source or an existing
	// destination; true when done; into a directory it moves inside.
	ren := func(src, dst string) reply {
		return e.do(e.follow, "PUT", e.url(src, "RENAME", "user.name", "alice", "destination", dst), nil)
	}
	e.okBool(ren("/user/alice/missing", "/user/alice/z"), false)
	require.Equal(t, http.StatusCreated, e.create("/user/alice/other", "alice", []byte("y")).status)
	e.okBool(ren("/user/alice/file", "/user/alice/other"), false)
	e.okBool(ren("/user/alice/file", "/user/alice/renamed"), true)
	require.Equal(t, []byte("x"), e.read("/user/alice/renamed", "alice"))
	e.remote(e.do(e.follow, "GET", e.url("/user/alice/file", "GETFILESTATUS", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
	e.okBool(ren("/user/alice/renamed", "/user/alice/a"), true)
	require.Equal(t, []byte("x"), e.read("/user/alice/a/renamed", "alice"))
	e.remote(ren("/user/alice/a", "relative/path"), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "PUT", e.url("/user/alice/a", "RENAME", "user.name", "alice"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "PUT", e.url("/user/alice/a", "RENAME", "user.name", "bob", "destination", "/user/alice/bb"), nil), 403, namesys.ClassAccessControl)
	// rename2 with renameoptions: an empty 200, or the exception.
	r := e.do(e.follow, "PUT", e.url("/user/alice/other", "RENAME", "user.name", "alice", "destination", "/user/alice/a/renamed", "renameoptions", "OVERWRITE"), nil)
	e.ok(r)
	require.Empty(t, r.body)
	require.Equal(t, []byte("y"), e.read("/user/alice/a/renamed", "alice"))
	e.remote(e.do(e.follow, "PUT", e.url("/user/alice/gone", "RENAME", "user.name", "alice", "destination", "/user/alice/g2", "renameoptions", "NONE"), nil), 404, namesys.ClassFileNotFound)

	// DELETE: non-recursive on a non-empty directory is refused; recursive
	// removes the tree; a missing path is false.
	del := func(p string, kv ...string) reply {
		return e.do(e.follow, "DELETE", e.url(p, "DELETE", append([]string{"user.name", "alice"}, kv...)...), nil)
	}
	e.remote(del("/user/alice/a"), 403, namesys.ClassPathIsNotEmptyDir)
	e.remote(del("/user/alice/a", "recursive", "false"), 403, namesys.ClassPathIsNotEmptyDir)
	e.remote(del("/user/alice/a", "recursive", ""), 400, classIllegalArgument)
	e.okBool(del("/user/alice/a", "recursive", "true"), true)
	e.remote(e.do(e.follow, "GET", e.url("/user/alice/a/b/c", "GETFILESTATUS", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
	e.okBool(del("/user/alice/a", "recursive", "true"), false)
	e.okBool(del("/user/alice/p"), true) // empty: no recursive needed
	e.remote(e.do(e.follow, "DELETE", e.url("/user/alice", "DELETE", "user.name", "bob", "recursive", "true"), nil), 403, namesys.ClassAccessControl)
}

func TestSetters(t *testing.T) {
	e := newEnv(t, Options{})
	require.Equal(t, http.StatusCreated, e.create("/user/alice/f", "alice", randBytes(3000, 9)).status)
	put := func(user, op string, kv ...string) reply {
		return e.do(e.follow, "PUT", e.url("/user/alice/f", op, append([]string{"user.name", user}, kv...)...), nil)
	}

	r := e.ok(put("alice", "SETPERMISSION", "permission", "600"))
	require.Empty(t, r.body)
	require.Equal(t, "600", e.status("/user/alice/f", "alice")["permission"])
	e.remote(put("bob", "SETPERMISSION", "permission", "777"), 403, namesys.ClassAccessControl)

	e.ok(put("root", "SETOWNER", "owner", "bob", "group", "bob"))
	st := e.status("/user/alice/f", "root")
	require.Equal(t, "bob", st["owner"])
	require.Equal(t, "bob", st["group"])
	e.remote(put("alice", "SETOWNER", "owner", "alice"), 403, namesys.ClassAccessControl)
	e.remote(put("root", "SETOWNER"), 400, classIllegalArgument)
	e.ok(put("root", "SETOWNER", "owner", "alice"))
	e.ok(put("alice", "SETOWNER", "group", "staff"))
	require.Equal(t, "staff", e.status("/user/alice/f", "alice")["group"])

	mtime := int64(1_600_000_000_123)
	e.ok(put("alice", "SETTIMES", "modificationtime", fmt.Sprint(mtime)))
	st = e.status("/user/alice/f", "alice")
	require.Equal(t, mtime, num(t, st["modificationTime"]))
	atime := int64(1_500_000_000_456)
	e.ok(put("alice", "SETTIMES", "accesstime", fmt.Sprint(atime), "modificationtime", "-1"))
	st = e.status("/user/alice/f", "alice")
	require.Equal(t, mtime, num(t, st["modificationTime"]))
	require.Equal(t, atime, num(t, st["accessTime"]))
	e.remote(put("alice", "SETTIMES", "modificationtime", "-2"), 400, classIllegalArgument)
	e.remote(put("alice", "SETTIMES", "modificationtime", "99999999999999999"), 400, classIllegalArgument)

	e.okBool(put("alice", "SETREPLICATION", "replication", "3"), true)
	require.Equal(t, int64(1), num(t, e.status("/user/alice/f", "alice")["replication"]))
	e.okBool(e.do(e.follow, "PUT", e.url("/user/alice", "SETREPLICATION", "user.name", "alice", "replication", "2"), nil), false)
	e.remote(put("alice", "SETREPLICATION", "replication", "x"), 400, classIllegalArgument)

	// TRUNCATE.
	e.okBool(e.do(e.follow, "POST", e.url("/user/alice/f", "TRUNCATE", "user.name", "alice", "newlength", "1000"), nil), true)
	require.Equal(t, int64(1000), num(t, e.status("/user/alice/f", "alice")["length"]))
	e.remote(e.do(e.follow, "POST", e.url("/user/alice/f", "TRUNCATE", "user.name", "alice", "newlength", "5000"), nil), 400, namesys.ClassIllegalArgument)
	e.remote(e.do(e.follow, "POST", e.url("/user/alice/f", "TRUNCATE", "user.name", "alice"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "POST", e.url("/user/alice/f", "TRUNCATE", "user.name", "bob", "newlength", "1"), nil), 403, namesys.ClassAccessControl)
}

func TestSummaryAndMisc(t *testing.T) {
	e := newEnv(t, Options{})
	require.Equal(t, http.StatusCreated, e.create("/user/alice/s/a", "alice", randBytes(100, 10)).status)
	require.Equal(t, http.StatusCreated, e.create("/user/alice/s/d/b", "alice", randBytes(250, 11)).status)

	m := e.okJSON(e.do(e.follow, "GET", e.url("/user/alice/s", "GETCONTENTSUMMARY", "user.name", "alice"), nil))
	requireKeys(t, m, []string{"ContentSummary"})
	cs := m["ContentSummary"].(map[string]any)
	requireKeys(t, cs, []string{"directoryCount", "fileCount", "length", "quota", "spaceConsumed", "spaceQuota"})
	require.Equal(t, int64(2), num(t, cs["directoryCount"]))
	require.Equal(t, int64(2), num(t, cs["fileCount"]))
	require.Equal(t, int64(350), num(t, cs["length"]))
	require.Equal(t, int64(-1), num(t, cs["quota"]))
	require.Equal(t, int64(350), num(t, cs["spaceConsumed"]))
	require.Equal(t, int64(-1), num(t, cs["spaceQuota"]))

	m = e.okJSON(e.do(e.follow, "GET", e.url("/user/alice/s", "GETQUOTAUSAGE", "user.name", "alice"), nil))
	require.Equal(t, int64(4), num(t, m["QuotaUsage"].(map[string]any)["fileAndDirectoryCount"]))

	m = e.okJSON(e.do(e.follow, "GET", e.url("/", "GETHOMEDIRECTORY", "user.name", "alice"), nil))
	require.Equal(t, map[string]any{"Path": "/user/alice"}, m)
	m = e.okJSON(e.do(e.follow, "GET", e.url("/", "GETHOMEDIRECTORY"), nil))
	require.Equal(t, map[string]any{"Path": "/user/dr.who"}, m) // the anonymous user
	m = e.okJSON(e.do(e.follow, "GET", e.url("/", "GETTRASHROOT", "user.name", "alice"), nil))
	require.Equal(t, map[string]any{"Path": "/user/alice/.Trash"}, m)

	m = e.okJSON(e.do(e.follow, "GET", e.url("/", "GETSTATUS", "user.name", "alice"), nil))
	fss := m["FsStatus"].(map[string]any)
	requireKeys(t, fss, []string{"capacity", "remaining", "used"})
	require.Greater(t, num(t, fss["capacity"]), int64(0))

	m = e.okJSON(e.do(e.follow, "GET", e.url("/user/alice", "GETACLSTATUS", "user.name", "alice"), nil))
	require.Equal(t, map[string]any{"AclStatus": map[string]any{"entries": []any{}, "group": "staff", "owner": "alice", "permission": "755", "stickyBit": false}}, m)

	// dr.who may not write under /.
	e.remote(e.create("/anon", "", []byte("x")), 403, namesys.ClassAccessControl)
}

func TestXAttrs(t *testing.T) {
	e := newEnv(t, Options{})
	require.Equal(t, http.StatusCreated, e.create("/user/alice/x", "alice", []byte("x")).status)
	put := func(op string, kv ...string) reply {
		return e.do(e.follow, "PUT", e.url("/user/alice/x", op, append([]string{"user.name", "alice"}, kv...)...), nil)
	}
	get := func(op string, kv ...string) reply {
		return e.do(e.follow, "GET", e.url("/user/alice/x", op, append([]string{"user.name", "alice"}, kv...)...), nil)
	}
	e.ok(put("SETXATTR", "xattr.name", "user.a", "xattr.value", `"hello"`, "flag", "CREATE"))
	e.ok(put("SETXATTR", "xattr.name", "user.b", "xattr.value", "0x00ff", "flag", "CREATE"))
	e.remote(put("SETXATTR", "xattr.name", "user.a", "xattr.value", "x", "flag", "CREATE"), 403, namesys.ClassIO)
	e.remote(put("SETXATTR", "xattr.name", "user.a", "xattr.value", "0xzz"), 400, classIllegalArgument)

	m := e.okJSON(get("LISTXATTRS"))
	require.Equal(t, map[string]any{"XAttrNames": `["user.a","user.b"]`}, m)
	m = e.okJSON(get("GETXATTRS", "xattr.name", "user.a", "encoding", "TEXT"))
	require.Equal(t, map[string]any{"XAttrs": []any{map[string]any{"name": "user.a", "value": `"hello"`}}}, m)
	m = e.okJSON(get("GETXATTRS", "xattr.name", "user.a", "xattr.name", "user.b", "encoding", "hex"))
	require.Equal(t, []any{
		map[string]any{"name": "user.a", "value": "0x68656c6c6f"},
		map[string]any{"name": "user.b", "value": "0x00ff"},
	}, m["XAttrs"])
	m = e.okJSON(get("GETXATTRS", "encoding", "BASE64"))
	require.Len(t, m["XAttrs"], 2)
	e.remote(get("GETXATTRS", "xattr.name", "user.nope"), 403, namesys.ClassIO)

	e.ok(put("REMOVEXATTR", "xattr.name", "user.a"))
	m = e.okJSON(get("LISTXATTRS"))
	require.Equal(t, map[string]any{"XAttrNames": `["user.b"]`}, m)
	e.remote(e.do(e.follow, "PUT", e.url("/user/alice/x", "SETXATTR", "user.name", "bob", "xattr.name", "user.c", "xattr.value", "v"), nil), 403, namesys.ClassAccessControl)
}

func TestErrors(t *testing.T) {
	e := newEnv(t, Options{})
	require.Equal(t, http.StatusCreated, e.create("/user/alice/private", "alice", []byte("secret"), "permission", "600").status)
	e.ok(e.do(e.follow, "PUT", e.url("/user/alice", "SETPERMISSION", "user.name", "alice", "permission", "700"), nil))

	msg := e.remote(e.do(e.follow, "GET", e.url("/user/alice/missing", "GETFILESTATUS", "user.name", "alice"), nil), 404, namesys.ClassFileNotFound)
	require.Equal(t, "File does not exist: /user/alice/missing", msg)
	msg = e.remote(e.do(e.follow, "GET", e.url("/user/alice/private", "GETFILESTATUS", "user.name", "bob"), nil), 403, namesys.ClassAccessControl)
	require.Contains(t, msg, "Permission denied: user=bob")
	e.remote(e.do(e.follow, "GET", e.url("/user/alice", "LISTSTATUS", "user.name", "bob"), nil), 403, namesys.ClassAccessControl)

	// Ops: unknown, missing, wrong method, known but unsupported.
	msg = e.remote(e.do(e.follow, "GET", e.url("/", "FROBNICATE"), nil), 400, classIllegalArgument)
	require.Contains(t, msg, `"op"`)
	e.remote(e.do(e.follow, "GET", e.url("/", ""), nil), 400, classIllegalArgument)
	msg = e.remote(e.do(e.follow, "GET", e.url("/user/alice/x", "MKDIRS", "user.name", "alice"), nil), 400, classIllegalArgument)
	require.Contains(t, msg, "PUT")
	e.remote(e.do(e.follow, "PUT", e.url("/user/alice/private", "OPEN", "user.name", "alice"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "POST", e.url("/user/alice/private", "CONCAT", "user.name", "alice"), nil), 400, namesys.ClassUnsupported)
	// Unicode case folding does not make an op ("lıststatus", dotless i).
	e.remote(e.do(e.follow, "GET", e.url("/", "lıststatus"), nil), 400, classIllegalArgument)
	r := e.do(e.follow, "PATCH", e.url("/", "GETFILESTATUS"), nil)
	e.remote(r, 405, namesys.ClassUnsupported)
	require.Equal(t, "GET, PUT, POST, DELETE", r.header.Get("Allow"))

	// Paths.
	e.remote(e.do(e.follow, "GET", e.srv.URL+Prefix+"/a/../b?op=GETFILESTATUS", nil), 400, namesys.ClassInvalidPath)
	e.remote(e.do(e.follow, "GET", e.srv.URL+Prefix+"/a//b?op=GETFILESTATUS", nil), 400, namesys.ClassInvalidPath)
	e.remote(e.do(e.follow, "GET", e.srv.URL+Prefix+"/.marvel-trash?op=GETFILESTATUS", nil), 400, namesys.ClassInvalidPath)
	e.remote(e.do(e.follow, "GET", e.url("/"+strings.Repeat("a", 300), "GETFILESTATUS"), nil), 400, namesys.ClassInvalidPath)
	e.remote(e.do(e.follow, "GET", e.srv.URL+"/webhdfs/v2/?op=GETFILESTATUS", nil), 404, namesys.ClassFileNotFound)
	e.remote(e.do(e.follow, "GET", e.srv.URL+"/webhdfs/v1x?op=GETFILESTATUS", nil), 404, namesys.ClassFileNotFound)
	e.ok(e.do(e.follow, "GET", e.srv.URL+Prefix+"?op=GETFILESTATUS", nil)) // the root

	// Parameters: users, duplicates, sizes, malformed queries.
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "user.name", "bad user"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "user.name", strings.Repeat("a", 300)), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "user.name", "bob", "doas", "alice"), nil), 403, classAuthorization)
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "user.name", "bob", "user.name", "alice"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "user.name", "bob", "USER.NAME", "alice"), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "junk", strings.Repeat("a", 2000)), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", strings.Repeat("n", 100), "v"), nil), 400, classIllegalArgument)
	var many []string
	for i := range 70 {
		many = append(many, fmt.Sprintf("p%d", i), "v")
	}
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", many...), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.srv.URL+Prefix+"/?op=GETFILESTATUS&x=%zz", nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.srv.URL+Prefix+"/?op=GETFILESTATUS&"+strings.Repeat("x", maxQueryBytes), nil), 400, classIllegalArgument)
	e.remote(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "buffersize", "0"), nil), 400, classIllegalArgument)
	// Unknown parameters are ignored, as Hadoop does.
	e.ok(e.do(e.follow, "GET", e.url("/", "GETFILESTATUS", "whatever", "1"), nil))
}

// TestTruncatedWhileStreaming cuts a file (through the host file system, as
// an action would) while OPEN streams it from its mapping: the server must
// survive the fault, cut the reply short and go on serving.
func TestTruncatedWhileStreaming(t *testing.T) {
	e := newEnv(t, Options{})
	p, err := namesys.ParsePath("/user/alice/huge")
	require.NoError(t, err)
	const size = 48 << 20 // far more than the socket buffers hold
	_, err = e.fs.WriteFile(e.fs.UserOf("alice"), p, namesys.CreateOptions{Perm: 0o644}, bytes.NewReader(randBytes(size, 12)))
	require.NoError(t, err)

	resp, err := e.follow.Get(e.url(p.String(), "OPEN", "user.name", "alice"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	first := make([]byte, 64<<10)
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(e.fs.HostPath(p), 0))
	n, err := io.Copy(io.Discard, resp.Body)
	require.Error(t, err, "the reply must be cut short, not padded")
	require.Less(t, n+int64(len(first)), int64(size))
	require.Equal(t, int64(1), e.s.faults.Load(), "the stream should have met the fault")

	// Still serving.
	require.Equal(t, int64(0), num(t, e.status(p.String(), "alice")["length"]))
	require.Empty(t, e.read(p.String(), "alice"))
}

// TestFaultGuard reads a mapping whose file was truncated, deterministically:
// stream and the checksum return an error instead of crashing the process.
func TestFaultGuard(t *testing.T) {
	e := newEnv(t, Options{})
	p, err := namesys.ParsePath("/user/alice/cut")
	require.NoError(t, err)
	alice := e.fs.UserOf("alice")
	_, err = e.fs.WriteFile(alice, p, namesys.CreateOptions{Perm: 0o644}, bytes.NewReader(randBytes(1<<20, 13)))
	require.NoError(t, err)
	v, err := e.fs.OpenFile(alice, p)
	require.NoError(t, err)
	defer v.Close()
	require.Len(t, v.Data, 1<<20)
	const left = 2 * 64 << 10 // two of stream's pieces
	require.NoError(t, os.Truncate(e.fs.HostPath(p), left))

	var out bytes.Buffer
	err = e.s.stream(&out, v.Data, "test")
	require.ErrorIs(t, err, errFault)
	require.Equal(t, namesys.ClassIO, namesys.ClassOf(err))
	require.Equal(t, left, out.Len()) // the pieces still backed by the file
	require.Equal(t, v.Data[:left], out.Bytes())
	err = e.s.guard("checksum", func() { fileChecksum(v.Data, testBlockSize) })
	require.ErrorIs(t, err, errFault)
	require.Equal(t, int64(2), e.s.faults.Load())

	// Other panics are not swallowed.
	require.PanicsWithValue(t, "boom", func() { e.s.guard("x", func() { panic("boom") }) })
	var nilMap map[string]int
	require.Panics(t, func() { e.s.guard("x", func() { nilMap["a"] = 1 }) })
	require.True(t, errors.Is(e.s.guard("ok", func() {}), nil))
}
