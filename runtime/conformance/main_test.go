// Package conformance_test is the black-box conformance suite of
// `marvel runtime`, the OpenWhisk action proxy: it builds the real binary
// and the example actions once, starts the runtime as a child process per
// test, and speaks the OpenWhisk container contract to it over HTTP
// (POST /init, POST /run), checking status codes, exact error bodies, the log
// sentinels on both streams, and the per-action persistent state.
//
// Run it with:
//
//	go test -race -count=1 ./runtime/conformance/
//
// The tests that compile Go source at /init take tens of seconds the first
// time (the build cache is cold); -short skips them.
package conformance_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

// Set by TestMain.
var (
	// moduleRoot is the directory of the module's go.mod (also the --sdk).
	moduleRoot string
	// marvelBin is the built `marvel` command.
	marvelBin string
	// actionExec maps an action name (echo, counter, kv, envaction) to its
	// precompiled executable, and actionZip to that executable zipped (exec
	// at the root, mode 0755) and base64-encoded for /init.
	actionExec = map[string]string{}
	actionZip  = map[string]string{}
)

// actionPackages are the precompiled actions: the examples, and the test's
// own action that reports its environment.
var actionPackages = map[string]string{
	"echo":      "./actions/echo",
	"counter":   "./actions/counter",
	"kv":        "./actions/kv",
	"envaction": "./runtime/conformance/testdata/envaction",
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "marvel-conformance-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := setup(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: set-up failed: %v\n", err)
		return 1
	}
	return m.Run()
}

// setup finds the module, builds marvel and the actions into tmp, and zips
// the actions.
func setup(tmp string) error {
	root, err := testbin.ModuleRoot()
	if err != nil {
		return err
	}
	moduleRoot = root
	marvelBin = filepath.Join(tmp, "marvel")
	targets := []testbin.Target{{Out: marvelBin, Pkg: "./cmd/marvel"}}
	for name, pkg := range actionPackages {
		exe := filepath.Join(tmp, name, "exec")
		actionExec[name] = exe
		targets = append(targets, testbin.Target{Out: exe, Pkg: pkg, Env: []string{"CGO_ENABLED=0"}})
	}
	if err := testbin.Build(root, targets...); err != nil {
		return err
	}
	for name, exe := range actionExec {
		b, err := os.ReadFile(exe)
		if err != nil {
			return err
		}
		z, err := zipFiles(zipEntry{Name: "exec", Body: b, Mode: 0o755})
		if err != nil {
			return err
		}
		actionZip[name] = base64.StdEncoding.EncodeToString(z)
	}
	return nil
}

// zipEntry is one file of a zip built by zipFiles.
type zipEntry struct {
	Name string
	Body []byte
	Mode os.FileMode
}

// zipFiles returns a zip archive of entries.
func zipFiles(entries ...zipEntry) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		h.SetMode(e.Mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(e.Body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fixture returns the content of testdata/name.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return string(b)
}

// b64 base64-encodes s.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// fixtureFile returns the content of the file at path.
func fixtureFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return string(b)
}
