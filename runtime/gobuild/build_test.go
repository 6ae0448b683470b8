package gobuild

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEntryPoint(t *testing.T) {
	for in, want := range map[string]string{"": "Main", "main": "Main", "niam": "Niam", "Hello": "Hello", "éclair": "Éclair"} {
		got, err := entryPoint(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"1main", "ma-in", "a b", "_"} {
		_, err := entryPoint(bad)
		var be *Error
		require.ErrorAs(t, err, &be, bad)
		require.ErrorIs(t, err, ErrBuild)
	}
}

func write(t *testing.T, dir string, files map[string]string) {
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
}

func TestBuildRefusesBadSourceBeforeCompiling(t *testing.T) {
	ctx := context.Background()
	opts := Options{Go: "/nonexistent/go"} // never reached
	cases := map[string]struct {
		files map[string]string
		want  string
	}{
		"no go files":   {map[string]string{"README": "x"}, "no Go source files"},
		"not main":      {map[string]string{"a.go": "package lib\n"}, "must all be in package main"},
		"mixed":         {map[string]string{"a.go": "package main\n", "b.go": "package other\n"}, "must all be in package main"},
		"syntax error":  {map[string]string{"exec": "package main\nfunc Main( {"}, "does not parse"},
		"launcher, sdk": {map[string]string{"a.go": "package main\nfunc Main(a map[string]any) map[string]any { return a }\n"}, "needs the Marvel SDK source"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			write(t, src, tc.files)
			err := Build(ctx, src, "main", filepath.Join(t.TempDir(), "exec"), opts)
			require.ErrorIs(t, err, ErrBuild)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestBuildNeedsAToolchain(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	src := t.TempDir()
	write(t, src, map[string]string{"main.go": "package main\nfunc main() {}\n"})
	err := Build(context.Background(), src, "main", filepath.Join(t.TempDir(), "exec"), Options{})
	require.ErrorIs(t, err, ErrBuild)
	require.Contains(t, err.Error(), "no Go toolchain")
}

// moduleRoot is the repository root, the SDK source for the launcher.
func moduleRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// TestBuildModuleTree compiles a zip-shaped tree with its own go.mod, two
// files and a non-default main, with the generated launcher, and runs the
// result through one activation. It needs the go command (and the module
// cache the repository's own build filled).
func TestBuildModuleTree(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles an action (seconds with a warm build cache)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	src := t.TempDir()
	write(t, src, map[string]string{
		"go.mod":   "module example.com/greeter\n\ngo 1.22\n",
		"greet.go": "package main\n\nfunc greeting(name string) string { return \"Hello, \" + name }\n",
		"hello.go": "package main\n\nfunc Hello(args map[string]any) map[string]any {\n\tname, _ := args[\"name\"].(string)\n\treturn map[string]any{\"greeting\": greeting(name)}\n}\n",
	})
	out := filepath.Join(t.TempDir(), "exec")
	env := append(os.Environ(), "GOPROXY=off")
	err = Build(context.Background(), src, "hello", out, Options{Go: goTool, SDKDir: moduleRoot(t), Env: env})
	var be *Error
	if errors.As(err, &be) {
		t.Fatalf("%v", be)
	}
	require.NoError(t, err)

	cmd := exec.Command(out)
	cmd.Stdin = strings.NewReader(`{"value":{"name":"Demo"}}` + "\n")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.ExtraFiles = []*os.File{w}
	require.NoError(t, cmd.Start())
	w.Close()
	reply := make([]byte, 256)
	n, _ := r.Read(reply)
	require.NoError(t, cmd.Wait())
	require.Equal(t, `{"greeting":"Hello, Demo"}`+"\n", string(reply[:n]))
}

func TestBuildFailureCarriesCompilerOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	src := t.TempDir()
	write(t, src, map[string]string{"main.go": "package main\n\nfunc main() { undefinedThing() }\n"})
	err = Build(context.Background(), src, "main", filepath.Join(t.TempDir(), "exec"), Options{Go: goTool, Env: os.Environ()})
	var be *Error
	require.ErrorAs(t, err, &be)
	require.Contains(t, string(be.Output), "undefined: undefinedThing")
}
