package namesys

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The crash-point proof of the namespace's metadata: every change to the tree
// goes through FS.step first, so a test can stop an operation before any one
// of its file-system calls, as a crash of the process there would (the file
// system keeps every call that completed). TestCrashPoints runs a workload
// once to count the steps, then once per step with a crash at that step,
// reopens the namespace (recovery) and checks that
//
//   - every operation acknowledged before the crash is there;
//   - the operation in flight is all there or not there at all (a rename is
//     never half-applied, a deleted tree never half-deleted), except a file
//     being written, which may hold a prefix of its bytes, as HDFS allows
//     for a writer that dies;
//   - nothing of the bridge's own (temporaries, the trash) is visible, and
//     the namespace works afterwards.

// node is the model of one inode.
type node struct {
	dir   bool
	data  string
	owner string
	perm  uint32
	xattr string
}

type model map[string]node

func (m model) clone() model {
	c := model{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

// snapshot reads the whole tree through the namespace.
func snapshot(t *testing.T, fs *FS) model {
	t.Helper()
	su := User{Name: "root"}
	m := model{}
	var walk func(p Path)
	walk = func(p Path) {
		list, _, err := fs.List(su, p, "")
		require.NoError(t, err)
		for _, st := range list {
			c := p.Child(st.Name)
			n := node{dir: st.IsDir, owner: st.Owner, perm: st.Perm}
			if xs, err := fs.GetXAttrs(su, c, nil); err == nil && len(xs) > 0 {
				n.xattr = string(xs[0].Value)
			}
			if st.IsDir {
				m[c.String()] = n
				walk(c)
				continue
			}
			v, err := fs.OpenFile(su, c)
			require.NoError(t, err)
			n.data = string(v.Data)
			v.Close()
			m[c.String()] = n
		}
	}
	walk(Path{s: "/"})
	return m
}

// op is one step of the workload: it changes the namespace and the model it
// is expected to produce, and says which partial states are allowed if it
// is cut short.
type op struct {
	name  string
	run   func(fs *FS) error
	apply func(m model)
	// prefix names a file that may hold a prefix of its final bytes when the
	// op is interrupted (a write).
	prefix string
}

func workload(t *testing.T) []op {
	su := User{Name: "root"}
	alice := User{Name: "alice"}
	p := func(s string) Path { return mustPath(t, s) }
	write := func(path, data string, owner User) op {
		return op{
			name: "write " + path,
			run: func(fs *FS) error {
				_, err := fs.WriteFile(owner, p(path), CreateOptions{Perm: 0o644, Overwrite: true}, strings.NewReader(data))
				return err
			},
			apply:  func(m model) { m[path] = node{data: data, owner: owner.Name, perm: 0o644} },
			prefix: path,
		}
	}
	big := strings.Repeat("0123456789abcdef", 9000) // 144000 bytes: 3 blocks of 64 KiB
	return []op{
		{name: "mkdirs /data/in", run: func(fs *FS) error { return fs.Mkdirs(su, p("/data/in"), 0o755, true) },
			apply: func(m model) {
				m["/data"] = node{dir: true, owner: "root", perm: 0o755}
				m["/data/in"] = node{dir: true, owner: "root", perm: 0o755}
			}},
		{name: "mkdirs /alice", run: func(fs *FS) error { return fs.Mkdirs(su, p("/alice"), 0o777, false) },
			apply: func(m model) { m["/alice"] = node{dir: true, owner: "root", perm: 0o777} }},
		write("/data/in/a", "alpha", su),
		write("/data/in/big", big, su),
		write("/alice/x", "x by alice", alice),
		{name: "rename a->b", run: func(fs *FS) error { return fs.Rename(su, p("/data/in/a"), p("/data/in/b"), false) },
			apply: func(m model) { m["/data/in/b"] = m["/data/in/a"]; delete(m, "/data/in/a") }},
		{name: "rename dir", run: func(fs *FS) error { return fs.Rename(su, p("/data/in"), p("/data/out"), false) },
			apply: func(m model) {
				for k, v := range m.clone() {
					if k == "/data/in" || strings.HasPrefix(k, "/data/in/") {
						delete(m, k)
						m["/data/out"+strings.TrimPrefix(k, "/data/in")] = v
					}
				}
			}},
		write("/data/c", "gamma", su),
		{name: "rename overwrite", run: func(fs *FS) error { return fs.Rename(su, p("/data/c"), p("/data/out/b"), true) },
			apply: func(m model) { m["/data/out/b"] = m["/data/c"]; delete(m, "/data/c") }},
		{name: "chmod", run: func(fs *FS) error { return fs.SetPermission(su, p("/data/out/big"), 0o600) },
			apply: func(m model) { n := m["/data/out/big"]; n.perm = 0o600; m["/data/out/big"] = n }},
		{name: "chown", run: func(fs *FS) error { return fs.SetOwner(su, p("/data/out/b"), "bob", "") },
			apply: func(m model) { n := m["/data/out/b"]; n.owner = "bob"; m["/data/out/b"] = n }},
		{name: "setxattr", run: func(fs *FS) error {
			return fs.SetXAttr(su, p("/data/out/b"), XAttr{Name: "user.tag", Value: []byte("v1")}, 0)
		}, apply: func(m model) { n := m["/data/out/b"]; n.xattr = "v1"; m["/data/out/b"] = n }},
		{name: "truncate", run: func(fs *FS) error { _, err := fs.Truncate(su, p("/data/out/big"), 70000, "t"); return err },
			apply: func(m model) { n := m["/data/out/big"]; n.data = n.data[:70000]; m["/data/out/big"] = n }},
		{name: "append", run: func(fs *FS) error { return fs.AppendFile(su, p("/data/out/b"), strings.NewReader("+more")) },
			apply:  func(m model) { n := m["/data/out/b"]; n.data += "+more"; m["/data/out/b"] = n },
			prefix: "/data/out/b"},
		{name: "delete file", run: func(fs *FS) error { _, err := fs.Delete(su, p("/alice/x"), false); return err },
			apply: func(m model) { delete(m, "/alice/x") }},
		{name: "delete tree", run: func(fs *FS) error { _, err := fs.Delete(su, p("/data/out"), true); return err },
			apply: func(m model) {
				for k := range m.clone() {
					if k == "/data/out" || strings.HasPrefix(k, "/data/out/") {
						delete(m, k)
					}
				}
			}},
		{name: "mkdirs after", run: func(fs *FS) error { return fs.Mkdirs(su, p("/data/z"), 0o700, false) },
			apply: func(m model) { m["/data/z"] = node{dir: true, owner: "root", perm: 0o700} }},
	}
}

// run runs the workload on a namespace at root, crashing at step crashAt
// (0: never). It returns the model after the acknowledged ops, the op in
// flight (nil if none) and the number of steps taken.
func runWorkload(t *testing.T, root string, crashAt int) (model, *op, int) {
	fs, err := Open(Config{Root: root, Superuser: "root", BlockSize: 64 << 10})
	require.NoError(t, err)
	defer fs.Close()
	steps := 0
	crashed := false
	fs.crash = func() error {
		if crashed {
			return errCrashed
		}
		steps++
		if steps == crashAt {
			crashed = true
			return errCrashed
		}
		return nil
	}
	m := model{}
	for i, o := range workload(t) {
		err := o.run(fs)
		if crashed {
			ops := workload(t)
			return m, &ops[i], steps
		}
		require.NoError(t, err, "op %q", o.name)
		o.apply(m)
	}
	return m, nil, steps
}

func TestCrashPoints(t *testing.T) {
	_, _, total := runWorkload(t, t.TempDir(), 0)
	require.Greater(t, total, 50, "the workload should take many steps")
	t.Logf("%d crash points", total)
	for k := 1; k <= total; k++ {
		root := t.TempDir()
		acked, inflight, _ := runWorkload(t, root, k)
		fs, err := Open(Config{Root: root, Superuser: "root", BlockSize: 64 << 10})
		require.NoError(t, err, "crash at step %d: reopen", k)
		got := snapshot(t, fs)
		before := acked
		after := acked.clone()
		if inflight != nil {
			inflight.apply(after)
		}
		if !equalModels(got, before) && !equalModels(got, after) {
			ok := false
			if inflight != nil && inflight.prefix != "" {
				ok = prefixState(got, before, after, inflight.prefix)
			}
			require.True(t, ok, "crash at step %d in %q: the namespace is neither before nor after the op:\n%s", k, opName(inflight), diff(got, before, after))
		}
		assertNothingHidden(t, root)
		// The namespace still works.
		require.NoError(t, fs.Mkdirs(User{Name: "root"}, mustPath(t, "/after/crash"), 0o755, true), "crash at step %d", k)
		_, err = fs.WriteFile(User{Name: "root"}, mustPath(t, "/after/crash/f"), CreateOptions{Perm: 0o644}, strings.NewReader("ok"))
		require.NoError(t, err, "crash at step %d", k)
		fs.Close()
	}
}

func opName(o *op) string {
	if o == nil {
		return "(none)"
	}
	return o.name
}

func equalModels(a, b model) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// prefixState accepts an interrupted write: every other inode as after (or
// before: they agree), the written file absent or holding a prefix of its
// final bytes (the old bytes and a prefix of the new ones, for an append).
func prefixState(got, before, after model, path string) bool {
	g := got.clone()
	n, present := g[path]
	delete(g, path)
	b, a := before.clone(), after.clone()
	old, hadOld := b[path]
	delete(b, path)
	delete(a, path)
	if !equalModels(g, b) && !equalModels(g, a) {
		return false
	}
	if !present {
		return !hadOld || strings.HasPrefix(after[path].data, old.data) == false
	}
	final := after[path].data
	if !strings.HasPrefix(final, n.data) {
		return false
	}
	if hadOld && strings.HasPrefix(final, old.data) && len(n.data) < len(old.data) {
		return false // an append never loses the old bytes
	}
	return true
}

func diff(got, before, after model) string {
	var b bytes.Buffer
	keys := map[string]bool{}
	for _, m := range []model{got, before, after} {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		g, b1, a := got[k], before[k], after[k]
		if g != b1 || g != a {
			fmt.Fprintf(&b, "%s\n  got    %s\n  before %s\n  after  %s\n", k, show(got, k), show(before, k), show(after, k))
		}
		_ = g
		_ = b1
		_ = a
	}
	return b.String()
}

func show(m model, k string) string {
	n, ok := m[k]
	if !ok {
		return "absent"
	}
	d := n.data
	if len(d) > 20 {
		d = fmt.Sprintf("%s…(%d bytes)", d[:20], len(n.data))
	}
	return fmt.Sprintf("dir=%v owner=%s perm=%o xattr=%q data=%q", n.dir, n.owner, n.perm, n.xattr, d)
}

// assertNothingHidden: recovery left no temporaries, and the trash is empty.
func assertNothingHidden(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if strings.HasPrefix(d.Name(), tmpPrefix) {
			t.Fatalf("a temporary survived recovery: %s", p)
		}
		return nil
	})
	ents, err := os.ReadDir(filepath.Join(root, trashName))
	require.NoError(t, err)
	require.Empty(t, ents, "the trash was not emptied")
}
