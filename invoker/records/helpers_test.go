package records

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfstest"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// memDir is where stores on a MemFS live.
const memDir = "/db"

// openT opens a store on fsys in dir; Cleanup checks its index and closes
// it (a second Close is harmless).
func openT(t testing.TB, fsys vfs.FS, dir string, opts Options) *Store {
	t.Helper()
	s, err := open(fsys, dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := s.checkIndex(); err != nil {
			t.Errorf("index check at cleanup: %v", err)
		}
		require.NoError(t, s.Close())
	})
	return s
}

// openDisk opens a store in a fresh temp directory.
func openDisk(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	return openT(t, vfs.OS{}, dir, opts), dir
}

// openMem opens a store on a fresh MemFS.
func openMem(t testing.TB, opts Options) (*Store, *vfstest.MemFS) {
	t.Helper()
	m := vfstest.NewMemFS()
	return openT(t, m, memDir, opts), m
}

// reopen closes s and opens its directory again.
func reopen(t testing.TB, s *Store) *Store {
	t.Helper()
	require.NoError(t, s.Close())
	return openT(t, s.fs, s.dir, s.opts)
}

// checkIndex checks the activation index's invariants.
func (s *Store) checkIndex() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	x := s.idx
	live, bytes := 0, int64(0)
	segLive := map[*segment]int{}
	inSegs := map[*segment]bool{}
	for i, g := range x.segs {
		inSegs[g] = true
		bytes += g.size
		if i > 0 && g.num <= x.segs[i-1].num {
			return fmt.Errorf("segments out of order: %d after %d", g.num, x.segs[i-1].num)
		}
	}
	if bytes != x.bytes {
		return fmt.Errorf("bytes %d, segments sum to %d", x.bytes, bytes)
	}
	for ns, n := range x.ns {
		nl, nd := 0, 0
		for i, e := range n.recs {
			if i > 0 && !before(n.recs[i-1], e) {
				return fmt.Errorf("namespace %q out of order at %d", ns, i)
			}
			if e.ns != ns {
				return fmt.Errorf("entry of %q in namespace %q", e.ns, ns)
			}
			if e.dead {
				nd++
				continue
			}
			nl++
			if x.byID[e.id] != e {
				return fmt.Errorf("entry %x not in byID", e.id)
			}
			if !inSegs[e.seg] {
				return fmt.Errorf("entry %x in a dropped segment %d", e.id, e.seg.num)
			}
			segLive[e.seg]++
		}
		if nl != n.live || nd != n.dead || nl == 0 {
			return fmt.Errorf("namespace %q: %d live %d dead, counted %d %d", ns, nl, nd, n.live, n.dead)
		}
		live += nl
	}
	if live != x.live || live != len(x.byID) {
		return fmt.Errorf("live %d, byID %d, namespaces hold %d", x.live, len(x.byID), live)
	}
	for _, g := range x.segs {
		if segLive[g] != g.live {
			return fmt.Errorf("segment %d: live %d, counted %d", g.num, g.live, segLive[g])
		}
	}
	if live > s.opts.MaxActivations {
		return fmt.Errorf("%d records kept, above MaxActivations %d", live, s.opts.MaxActivations)
	}
	return nil
}

// id returns the i-th test activation id.
func id(i int) string { return fmt.Sprintf("%032x", i) }

// activation makes a full record whose contents derive from its id, so a
// damaged or misplaced record can never pass for another.
func activation(aid, ns, name string, start int64, logs int) whisk.Activation {
	h := fnv.New64a()
	h.Write([]byte(aid + ns + name))
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(start)))
	var lines []string
	for i := range logs {
		lines = append(lines, fmt.Sprintf("2024-01-01T00:00:00.%06dZ stdout: %s line %d %x", i, aid, i, r.Uint64()))
	}
	code := int(r.Uint64() % 4)
	result, _ := json.Marshal(map[string]any{"id": aid, "n": r.Uint64() % 1000})
	return whisk.Activation{
		Namespace:    ns,
		Name:         name,
		Subject:      ns,
		ActivationID: aid,
		Start:        start,
		End:          start + int64(r.Uint64()%100),
		Duration:     int64(r.Uint64() % 100),
		Logs:         lines,
		Version:      "0.0.1",
		Annotations: whisk.KeyValues{}.Set("path", ns+"/"+name).Set("kind", "go:1.26").
			Set("waitTime", r.Uint64()%50).Set("limits", map[string]int{"timeout": 60000}),
		Response: &whisk.Response{Status: whisk.StatusText(code), Success: code == 0, Result: result},
	}
}

// requireJSON requires want and got to marshal alike.
func requireJSON(t testing.TB, want, got any, msgAndArgs ...any) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(w), string(g), msgAndArgs...)
}

// segmentFiles lists the segment files of a store on disk.
func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segmentsDir, "seg-*.log"))
	require.NoError(t, err)
	return m
}

// action makes an action with code.
func action(ns, name, code string, updated int64) *whisk.Action {
	return &whisk.Action{
		Namespace:   ns,
		Name:        name,
		Version:     "0.0.1",
		Exec:        &whisk.Exec{Kind: "go:1.26", Code: &code, Main: "main"},
		Annotations: whisk.KeyValues{}.Set("exec", "go"),
		Parameters:  whisk.KeyValues{}.Set("greeting", "hi"),
		Limits:      &whisk.Limits{Timeout: ptr(60000), Memory: ptr(256)},
		Updated:     updated,
	}
}

func ptr[T any](v T) *T { return &v }

// put stores a with UpdateAction.
func put(t testing.TB, s *Store, a *whisk.Action) whisk.Action {
	t.Helper()
	got, err := s.UpdateAction(a.Namespace, a.Name, func(*whisk.Action) (*whisk.Action, error) { return a, nil })
	require.NoError(t, err)
	return got
}

func withoutCode(a whisk.Action) whisk.Action {
	a = cloneAction(a)
	if a.Exec != nil {
		a.Exec.Code = nil
	}
	return a
}

func bigCode(n int) string {
	var b strings.Builder
	r := rand.New(rand.NewPCG(uint64(n), 1))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for b.Len() < n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}
