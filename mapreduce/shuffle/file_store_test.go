package shuffle_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
	"github.com/marvel-serverless/marvel/pmem"
)

// fileConfigs are the file-backed store kinds.
func fileConfigs(t testing.TB) []shuffle.Config {
	return []shuffle.Config{
		{Kind: shuffle.KindPMEM, Dir: t.TempDir(), Mode: "emulated"},
		{Kind: shuffle.KindDisk, Dir: t.TempDir()},
	}
}

// listFiles returns the regular files under dir, relative and slash-separated,
// hidden ones included.
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	}))
	return out
}

func TestFileStoresPutLeavesWholeFiles(t *testing.T) {
	for _, c := range fileConfigs(t) {
		t.Run(c.Kind, func(t *testing.T) {
			s := open(t, c)
			r := seededRand(t)
			ctx := context.Background()
			want := map[string][]byte{}
			for i, n := range []int{0, 1, 100 << 10, 3<<20 + 5} {
				key := fmt.Sprintf("job/map-%d/part-0", i)
				want[key] = randomBytes(r, n)
				require.NoError(t, s.Put(ctx, key, want[key]))
			}
			require.NoError(t, s.Put(ctx, "job/map-2/part-0", want["job/map-0/part-0"])) // overwrite, shrinking
			want["job/map-2/part-0"] = want["job/map-0/part-0"]
			files := listFiles(t, c.Dir)
			require.ElementsMatch(t, []string{"job/map-0/part-0", "job/map-1/part-0", "job/map-2/part-0", "job/map-3/part-0"}, files,
				"one file per key, no temporaries left")
			loc, ok := s.(shuffle.Locator)
			require.True(t, ok, "file stores are Locators")
			for key, data := range want {
				p, err := loc.Path(key)
				require.NoError(t, err)
				require.Equal(t, filepath.Join(c.Dir, filepath.FromSlash(key)), p)
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				require.True(t, bytes.Equal(data, b), "%s: the file is exactly the value", key)
			}
			_, err := loc.Path("../escape")
			require.ErrorIs(t, err, shuffle.ErrInvalidKey)
		})
	}
}

func TestFileStoresConflict(t *testing.T) {
	for _, c := range fileConfigs(t) {
		t.Run(c.Kind, func(t *testing.T) {
			s := open(t, c)
			ctx := context.Background()
			require.NoError(t, s.Put(ctx, "a/b", []byte("file")))
			err := s.Put(ctx, "a/b/c", []byte("below a file"))
			require.ErrorIs(t, err, shuffle.ErrConflict)
			require.ErrorContains(t, err, `"a/b/c"`)
			require.NoError(t, s.Put(ctx, "x/y/z", []byte("deep")))
			require.ErrorIs(t, s.Put(ctx, "x/y", []byte("over a directory")), shuffle.ErrConflict)
			got, err := s.Get(ctx, "a/b")
			require.NoError(t, err)
			require.Equal(t, "file", string(got), "a refused Put changes nothing")
			require.Equal(t, []string{"a/b", "x/y/z"}, listFiles(t, c.Dir))
		})
	}
}

// TestFileStoresCrashBeforeRename leaves what a crash between writing a
// value and renaming it into place leaves, a complete or partial hidden
// temporary, and checks that a store opened afterwards does not see it,
// keeps the older value, and deletes it with its prefix.
func TestFileStoresCrashBeforeRename(t *testing.T) {
	for _, c := range fileConfigs(t) {
		t.Run(c.Kind, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, c)
			require.NoError(t, s.Put(ctx, "job/m0/p0", []byte("committed")))
			require.NoError(t, s.Close())

			var w *pmem.FileWriter
			if c.Kind == shuffle.KindPMEM {
				// A writer abandoned before Commit: the mapping is written
				// and fenced, nothing is renamed.
				var err error
				w, err = pmem.CreateFile(filepath.Join(c.Dir, "job", "m0", "p0"), pmem.FileOptions{Mode: pmem.ModeEmulated, Overwrite: true})
				require.NoError(t, err)
				t.Cleanup(func() { w.Abort() })
				_, err = w.Write([]byte("never committed"))
				require.NoError(t, err)
				w, err = pmem.CreateFile(filepath.Join(c.Dir, "job", "m1", "p0"), pmem.FileOptions{Mode: pmem.ModeEmulated})
				require.NoError(t, err)
				t.Cleanup(func() { w.Abort() })
			} else {
				require.NoError(t, os.WriteFile(filepath.Join(c.Dir, "job", "m0", ".p0.tmp-123456"), []byte("never"), 0o644))
				require.NoError(t, os.MkdirAll(filepath.Join(c.Dir, "job", "m1"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(c.Dir, "job", "m1", ".p0.tmp-987654"), []byte("half"), 0o644))
			}
			files := listFiles(t, c.Dir)
			require.Len(t, files, 3, "the committed file and two temporaries: %v", files)

			s = open(t, c) // after the "restart"
			got, err := s.Get(ctx, "job/m0/p0")
			require.NoError(t, err)
			require.Equal(t, "committed", string(got), "the older value survives")
			_, err = s.Get(ctx, "job/m1/p0")
			require.ErrorIs(t, err, shuffle.ErrNotFound, "an uncommitted key is not visible")
			require.ErrorIs(t, s.View(ctx, "job/m1/p0", func([]byte) error { return nil }), shuffle.ErrNotFound)

			require.NoError(t, s.DeletePrefix(ctx, "job/"))
			require.Empty(t, listFiles(t, c.Dir), "DeletePrefix removes the temporaries of its keys")
		})
	}
}

// TestPMEMViewIsMapping proves View passes the file's mapping, not a copy:
// a write to the file through another descriptor shows in the slice.
// TestPMEMViewIsMapping: on DAX, View lends the mapping of a value of
// viewMapMin or more and reads a smaller one; in emulated mode it reads.
func TestPMEMViewIsMapping(t *testing.T) {
	c := shuffle.Config{Kind: shuffle.KindPMEM, Dir: t.TempDir(), Mode: "emulated"}
	ctx := context.Background()
	big := bytes.Repeat([]byte("hello, shuffle "), 1<<20/15+1) // at least viewMapMin
	s := open(t, c)
	require.NoError(t, s.Put(ctx, "job/m0/big", big))
	path, err := s.(shuffle.Locator).Path("job/m0/big")
	require.NoError(t, err)
	require.NoError(t, s.View(ctx, "job/m0/big", func(b []byte) error {
		require.NoError(t, os.WriteFile(path, []byte("Jello"), 0o600))
		require.Equal(t, big, b, "emulated: the slice is a copy")
		return nil
	}))

	s = open(t, c)
	shuffle.LendMappings(s)
	require.NoError(t, s.Put(ctx, "job/m0/p0", big))
	path, err = s.(shuffle.Locator).Path("job/m0/p0")
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, s.View(ctx, "job/m0/p0", func(b []byte) error {
		require.Equal(t, big, b)
		_, err := f.WriteAt([]byte("J"), 0)
		require.NoError(t, err)
		require.Equal(t, "Jello, shuffle", string(b[:14]), "the slice is the mapping of the file")
		return nil
	}))
	got, err := s.Get(ctx, "job/m0/p0")
	require.NoError(t, err)
	got[0] = 'X'
	again, err := s.Get(ctx, "job/m0/p0")
	require.NoError(t, err)
	require.Equal(t, "Jello, shuffle", string(again[:14]), "Get returns a copy")

	// A small value is read, not mapped: the slice is a copy.
	require.NoError(t, s.Put(ctx, "job/m0/p1", []byte("hello, shuffle")))
	path, err = s.(shuffle.Locator).Path("job/m0/p1")
	require.NoError(t, err)
	require.NoError(t, s.View(ctx, "job/m0/p1", func(b []byte) error {
		require.Equal(t, "hello, shuffle", string(b))
		require.NoError(t, os.WriteFile(path, []byte("Jello, shuffle"), 0o600))
		require.Equal(t, "hello, shuffle", string(b))
		return nil
	}))
}

// The crash child (TestFileStoresKilledWriter) puts values until killed,
// printing "ok N" after each Put returns.
const (
	crashChildEnv = "MARVEL_SHUFFLE_CRASH_CHILD" // the store's kind
	crashDirEnv   = "MARVEL_SHUFFLE_CRASH_DIR"
)

// crashValue is the value of key crash/m<i>/p0: its length and bytes follow
// from i, so a reader can tell a whole value from a torn one.
func crashValue(i int) []byte {
	b := make([]byte, 192<<10+(i%7)*4093)
	for j := range b {
		b[j] = byte(i*131 + j*7)
	}
	return b
}

func runCrashChild() int {
	c := shuffle.Config{Kind: os.Getenv(crashChildEnv), Dir: os.Getenv(crashDirEnv)}
	if c.Kind == shuffle.KindPMEM {
		c.Mode = "emulated"
	}
	s, err := shuffle.Open(context.Background(), c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := range 100000 { // bounded, should the parent forget to kill
		if err := s.Put(context.Background(), fmt.Sprintf("crash/m%d/p0", i), crashValue(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := fmt.Printf("ok %d\n", i); err != nil {
			return 3 // the parent is gone
		}
	}
	return 0
}

// TestFileStoresKilledWriter kills (SIGKILL) a process in the middle of a
// run of Puts and checks that every acknowledged value is there whole, that
// every visible key holds a whole value, and that DeletePrefix clears what
// the crash left. A killed process keeps the page cache: this checks
// atomicity of publication, not power-loss durability.
func TestFileStoresKilledWriter(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, c := range fileConfigs(t) {
		t.Run(c.Kind, func(t *testing.T) {
			r := seededRand(t)
			killAfter := 3 + r.IntN(20)
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+c.Kind, crashDirEnv+"="+c.Dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			acked := -1
			sc := bufio.NewScanner(out)
			for acked+1 < killAfter && sc.Scan() {
				n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ok "))
				require.NoError(t, err, "child said %q", sc.Text())
				acked = n
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			for sc.Scan() { // acknowledged before the kill landed
				if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ok ")); err == nil {
					acked = n
				}
			}
			cmd.Wait()
			require.GreaterOrEqual(t, acked+1, killAfter, "child stderr:\n%s", stderr.String())

			s := open(t, c)
			ctx := context.Background()
			for i := 0; i <= acked; i++ {
				got, err := s.Get(ctx, fmt.Sprintf("crash/m%d/p0", i))
				require.NoError(t, err, "acknowledged value %d", i)
				require.True(t, bytes.Equal(crashValue(i), got), "acknowledged value %d is torn", i)
			}
			temps := 0
			for _, f := range listFiles(t, c.Dir) {
				if strings.HasPrefix(filepath.Base(f), ".") {
					temps++
					continue
				}
				var i int
				_, err := fmt.Sscanf(f, "crash/m%d/p0", &i)
				require.NoError(t, err, f)
				got, err := s.Get(ctx, f)
				require.NoError(t, err)
				require.True(t, bytes.Equal(crashValue(i), got), "visible value %d is torn", i)
			}
			t.Logf("killed after %d acknowledged puts; %d temporaries left", acked+1, temps)
			require.NoError(t, s.DeletePrefix(ctx, "crash/"))
			require.Empty(t, listFiles(t, c.Dir))
		})
	}
}
