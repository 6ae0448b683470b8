package records

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

func TestActionCRUD(t *testing.T) {
	s, _ := openDisk(t, Options{})

	_, err := s.GetAction("guest", "hello", true)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, `"hello"`)
	require.ErrorContains(t, err, `"guest"`)

	a := action("guest", "hello", "package main // v1", 1000)
	got := put(t, s, a)
	requireJSON(t, a, got)

	full, err := s.GetAction("guest", "hello", true)
	require.NoError(t, err)
	requireJSON(t, a, full)
	meta, err := s.GetAction("guest", "hello", false)
	require.NoError(t, err)
	require.Nil(t, meta.Exec.Code)
	requireJSON(t, withoutCode(*a), meta)

	// Update through fn: it sees the current action with its code.
	got, err = s.UpdateAction("guest", "hello", func(cur *whisk.Action) (*whisk.Action, error) {
		require.NotNil(t, cur)
		require.Equal(t, "package main // v1", *cur.Exec.Code)
		code := "package main // v2"
		cur.Exec.Code = &code
		cur.Version = "0.0.2"
		cur.Updated = 2000
		return cur, nil
	})
	require.NoError(t, err)
	require.Equal(t, "0.0.2", got.Version)
	full, err = s.GetAction("guest", "hello", true)
	require.NoError(t, err)
	require.Equal(t, "package main // v2", *full.Exec.Code)
	require.Equal(t, "0.0.2", full.Version)

	// Without exec, or with exec but no code.
	noExec := &whisk.Action{Namespace: "guest", Name: "bare", Updated: 3000}
	put(t, s, noExec)
	img := &whisk.Action{Namespace: "guest", Name: "image", Exec: &whisk.Exec{Kind: "blackbox", Image: "openwhisk/example"}, Updated: 1000}
	put(t, s, img)
	for _, want := range []*whisk.Action{noExec, img} {
		for _, withCode := range []bool{false, true} {
			got, err := s.GetAction("guest", want.Name, withCode)
			require.NoError(t, err)
			requireJSON(t, want, got)
		}
	}

	// Another namespace.
	put(t, s, action("other", "hello", "x", 5))

	list, err := s.ListActions("guest", 0, 0)
	require.NoError(t, err)
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
		if a.Exec != nil {
			require.Nil(t, a.Exec.Code)
		}
	}
	require.Equal(t, []string{"bare", "hello", "image"}, names) // 3000, 2000, then 1000
	list, err = s.ListActions("guest", 1, 1)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "hello", list[0].Name)
	list, err = s.ListActions("guest", 5, 0)
	require.NoError(t, err)
	require.Empty(t, list)
	list, err = s.ListActions("nobody", 0, 0)
	require.NoError(t, err)
	require.Empty(t, list)
	_, err = s.ListActions("guest", -1, 0)
	require.ErrorIs(t, err, ErrInvalid)

	require.Equal(t, []string{"guest", "other"}, s.Namespaces())
	require.Equal(t, 4, s.Stats().Actions)

	del, err := s.DeleteAction("guest", "hello")
	require.NoError(t, err)
	require.Equal(t, "package main // v2", *del.Exec.Code)
	_, err = s.GetAction("guest", "hello", false)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.DeleteAction("guest", "hello")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.DeleteAction("other", "hello")
	require.NoError(t, err)
	require.Equal(t, []string{"guest"}, s.Namespaces())

	s = reopen(t, s)
	require.Equal(t, []string{"guest"}, s.Namespaces())
	list, err = s.ListActions("guest", 0, 0)
	require.NoError(t, err)
	require.Len(t, list, 2)
}

func TestActionReturnedValuesAreCopies(t *testing.T) {
	s, _ := openDisk(t, Options{})
	a := action("guest", "a", "code", 1)
	put(t, s, a)
	// Changing what was passed in or what came out does not reach the store.
	a.Annotations[0].Value[1] = 'X'
	*a.Limits.Timeout = 1
	got, err := s.GetAction("guest", "a", false)
	require.NoError(t, err)
	got.Annotations[0].Value[1] = 'Y'
	got.Parameters = nil
	again, err := s.GetAction("guest", "a", false)
	require.NoError(t, err)
	requireJSON(t, withoutCode(*action("guest", "a", "code", 1)), again)
}

func TestUpdateActionFnError(t *testing.T) {
	s, dir := openDisk(t, Options{})
	a := action("guest", "a", "v1", 1)
	put(t, s, a)
	path := s.actionPath("guest", "a")
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	boom := errors.New("boom")
	_, err = s.UpdateAction("guest", "a", func(cur *whisk.Action) (*whisk.Action, error) {
		cur.Version = "9.9.9" // changing cur must not leak either
		return nil, boom
	})
	require.Same(t, boom, err)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
	got, err := s.GetAction("guest", "a", true)
	require.NoError(t, err)
	requireJSON(t, a, got)

	// An fn error on an absent action creates nothing.
	_, err = s.UpdateAction("guest", "b", func(cur *whisk.Action) (*whisk.Action, error) {
		require.Nil(t, cur)
		return nil, boom
	})
	require.Same(t, boom, err)
	_, err = s.GetAction("guest", "b", false)
	require.ErrorIs(t, err, ErrNotFound)
	requireNoTemps(t, dir)
}

func TestUpdateActionNilLeavesUnchanged(t *testing.T) {
	s, _ := openDisk(t, Options{})
	got, err := s.UpdateAction("guest", "a", func(*whisk.Action) (*whisk.Action, error) { return nil, nil })
	require.NoError(t, err)
	require.Equal(t, whisk.Action{}, got)
	_, err = s.GetAction("guest", "a", false)
	require.ErrorIs(t, err, ErrNotFound)

	a := action("guest", "a", "v1", 1)
	put(t, s, a)
	got, err = s.UpdateAction("guest", "a", func(*whisk.Action) (*whisk.Action, error) { return nil, nil })
	require.NoError(t, err)
	requireJSON(t, a, got)
}

// TestUpdateActionConcurrent increments a counter annotation from many
// goroutines: updates of one action serialise, so none is lost; updates of
// other actions go on beside them.
func TestUpdateActionConcurrent(t *testing.T) {
	s, _ := openDisk(t, Options{})
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := "counter"
			if i%5 == 0 {
				name = "side" + strconv.Itoa(i)
			}
			_, err := s.UpdateAction("guest", name, func(cur *whisk.Action) (*whisk.Action, error) {
				if cur == nil {
					cur = action("guest", name, "code", 0)
				}
				var v int
				if raw := cur.Annotations.Get("count"); raw != nil {
					require.NoError(t, json.Unmarshal(raw, &v))
				}
				cur.Annotations = cur.Annotations.Set("count", v+1)
				cur.Version = "0.0." + strconv.Itoa(v+1)
				return cur, nil
			})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	got, err := s.GetAction("guest", "counter", true)
	require.NoError(t, err)
	require.JSONEq(t, "40", string(got.Annotations.Get("count")))
	require.Equal(t, "0.0.40", got.Version)
	require.Equal(t, "code", *got.Exec.Code)
	s = reopen(t, s)
	got, err = s.GetAction("guest", "counter", false)
	require.NoError(t, err)
	require.JSONEq(t, "40", string(got.Annotations.Get("count")))
	require.Equal(t, 11, s.Stats().Actions)
}

func TestActionNamesNeedingEscapes(t *testing.T) {
	long := strings.Repeat("Ab", 128) // 256 characters, most escaped
	names := []string{
		"a", "A", ".", "..", "...", "a.b", "a b", "with space x", "-dash", "_u", "x@y", "A B.C-D_E@F",
		long, long[:255] + "c", strings.Repeat("z", 256), strings.Repeat(".", 256),
	}
	namespaces := []string{"guest", "Guest", "..", "ns with space"}
	s, dir := openDisk(t, Options{})
	for i, ns := range namespaces {
		for j, n := range names {
			require.NoError(t, whisk.ValidName(n), n)
			put(t, s, action(ns, n, ns+"/"+n, int64(i*100+j)))
		}
	}
	check := func(s *Store) {
		t.Helper()
		for _, ns := range namespaces {
			for _, n := range names {
				got, err := s.GetAction(ns, n, true)
				require.NoError(t, err, "%q/%q", ns, n)
				require.Equal(t, n, got.Name)
				require.Equal(t, ns+"/"+n, *got.Exec.Code)
			}
			list, err := s.ListActions(ns, 0, 0)
			require.NoError(t, err)
			require.Len(t, list, len(names))
		}
		ss := slices.Clone(namespaces)
		slices.Sort(ss)
		require.Equal(t, ss, s.Namespaces())
	}
	check(s)
	s = reopen(t, s)
	check(s)

	// Every file name is one safe name.
	err := filepath.WalkDir(filepath.Join(dir, actionsDir), func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		base := d.Name()
		require.LessOrEqual(t, len(base), 255, p)
		require.NotContains(t, []string{".", ".."}, base)
		require.Equal(t, strings.ToLower(base), base, "file names are lower case: %s", p)
		require.False(t, strings.HasPrefix(base, ".") && p != filepath.Join(dir, actionsDir), p)
		return nil
	})
	require.NoError(t, err)
}

func TestEscapeName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"hello", "hello"},
		{"Hello", "%48ello"},
		{".", "%2e"},
		{"..", "%2e."},
		{"a.b", "a.b"},
		{"a b", "a%20b"},
		{"x@y-z_1", "x@y-z_1"},
		{"%", "%25"},
	} {
		require.Equal(t, c.want, escapeName(c.in), c.in)
	}
	// One-to-one on a sample, and bounded.
	seen := map[string]string{}
	for _, n := range []string{"a", "A", "%41", "aa", "a a", strings.Repeat("Q", 256), strings.Repeat("Q", 255) + "q",
		strings.Repeat("a", 256), strings.Repeat("a", 255) + "b", strings.Repeat("A", 53) + "b" + strings.Repeat("a", 100)} {
		e := escapeName(n)
		require.LessOrEqual(t, len(e), maxEscaped)
		if other, ok := seen[e]; ok {
			t.Fatalf("%q and %q both escape to %q", n, other, e)
		}
		seen[e] = n
	}
}

func TestActionInvalidNames(t *testing.T) {
	s, _ := openDisk(t, Options{})
	for _, c := range [][2]string{{"", "a"}, {"guest", ""}, {"guest", "a/b"}, {"guest", "@a"}, {"a/b", "x"},
		{"guest", "trailing "}, {"guest", strings.Repeat("a", 257)}} {
		_, err := s.UpdateAction(c[0], c[1], func(*whisk.Action) (*whisk.Action, error) { t.Fatal("fn called"); return nil, nil })
		require.ErrorIs(t, err, ErrInvalid, "%q", c)
		_, err = s.GetAction(c[0], c[1], false)
		require.ErrorIs(t, err, ErrInvalid)
		_, err = s.DeleteAction(c[0], c[1])
		require.ErrorIs(t, err, ErrInvalid)
	}
}

// TestActionsRestart keeps a 5 MB code byte for byte across Close and Open,
// and serves metadata without reading it.
func TestActionsRestart(t *testing.T) {
	s, _ := openDisk(t, Options{})
	code := bigCode(5 << 20)
	a := action("guest", "big", code, 42)
	bin := true
	a.Exec.Binary = &bin
	a.Exec.Components = []string{"/guest/x"}
	a.Publish = true
	put(t, s, a)
	put(t, s, action("guest", "small", "tiny", 43))
	s = reopen(t, s)

	got, err := s.GetAction("guest", "big", true)
	require.NoError(t, err)
	require.Equal(t, len(code), len(*got.Exec.Code))
	require.True(t, code == *got.Exec.Code, "code differs after restart")
	requireJSON(t, withoutCode(*a), withoutCode(got))

	// Metadata comes from memory: it is served even with the file gone.
	require.NoError(t, os.Rename(s.actionPath("guest", "big"), s.actionPath("guest", "big")+".aside"))
	meta, err := s.GetAction("guest", "big", false)
	require.NoError(t, err)
	require.Nil(t, meta.Exec.Code)
	requireJSON(t, withoutCode(*a), meta)
	require.NoError(t, os.Rename(s.actionPath("guest", "big")+".aside", s.actionPath("guest", "big")))
}

func TestActionTempFilesRemovedAtOpen(t *testing.T) {
	s, dir := openDisk(t, Options{})
	put(t, s, action("guest", "a", "v1", 1))
	require.NoError(t, s.Close())
	tmp := filepath.Join(dir, actionsDir, "guest", "a.action.tmp")
	require.NoError(t, os.WriteFile(tmp, []byte("half a write"), 0o600))
	stray := filepath.Join(dir, actionsDir, "guest", "README")
	require.NoError(t, os.WriteFile(stray, []byte("left alone"), 0o600))
	s = openT(t, vfs.OS{}, dir, Options{})
	require.NoFileExists(t, tmp)
	require.FileExists(t, stray)
	got, err := s.GetAction("guest", "a", true)
	require.NoError(t, err)
	require.Equal(t, "v1", *got.Exec.Code)
}

func requireNoTemps(t *testing.T, dir string) {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, actionsDir, "*", "*"+tempExt))
	require.NoError(t, err)
	require.Empty(t, m)
}

// TestActionDamage: damaged metadata fails Open, naming the file and
// leaving it alone; damaged code fails reads of the code only, and the
// action can still be deleted.
func TestActionDamage(t *testing.T) {
	s, dir := openDisk(t, Options{})
	put(t, s, action("guest", "a", "some code", 1))
	put(t, s, action("guest", "b", "other code", 2))
	require.NoError(t, s.Close())
	path := s.actionPath("guest", "a")
	orig, err := os.ReadFile(path)
	require.NoError(t, err)

	// Metadata: Open fails.
	bad := append([]byte(nil), orig...)
	bad[45] ^= 0x40
	require.NoError(t, os.WriteFile(path, bad, 0o600))
	_, err = Open(dir, Options{})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Equal(t, path, ce.Path)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "move the file aside")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, bad, after)

	// Truncated: Open fails too.
	require.NoError(t, os.WriteFile(path, orig[:len(orig)-3], 0o600))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)

	// Code: reads with code fail, metadata and delete work.
	bad = append([]byte(nil), orig...)
	bad[len(bad)-2] ^= 1
	require.NoError(t, os.WriteFile(path, bad, 0o600))
	s = openT(t, vfs.OS{}, dir, Options{})
	_, err = s.GetAction("guest", "a", true)
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Reason, "code checksum")
	_, err = s.GetAction("guest", "a", false)
	require.NoError(t, err)
	_, err = s.UpdateAction("guest", "a", func(cur *whisk.Action) (*whisk.Action, error) { return cur, nil })
	require.ErrorIs(t, err, ErrCorrupt)
	del, err := s.DeleteAction("guest", "a")
	require.NoError(t, err)
	require.Nil(t, del.Exec.Code)
	require.NoFileExists(t, path)

	// A file under the wrong name fails Open.
	require.NoError(t, s.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, actionsDir, "guest", "c.action"), orig, 0o600))
	_, err = Open(dir, Options{})
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Reason, "holds action guest/a")
}
