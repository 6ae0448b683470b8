package records

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfstest"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

func TestAppendGet(t *testing.T) {
	s, _ := openDisk(t, Options{})
	a := activation(id(1), "guest", "hello", 1000, 3)
	require.NoError(t, s.Append(a))
	got, err := s.GetActivation("guest", id(1))
	require.NoError(t, err)
	require.Equal(t, a, got)

	// A record without response, logs or annotations, with a status code.
	b := whisk.Activation{Namespace: "guest", Name: "x", ActivationID: id(2), StatusCode: ptr(whisk.CodeWhiskError)}
	require.NoError(t, s.Append(b))
	got, err = s.GetActivation("guest", id(2))
	require.NoError(t, err)
	requireJSON(t, b, got)
	list, err := s.ListActivations("guest", Query{Name: "x"}, false)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, whisk.CodeWhiskError, *list[0].StatusCode)

	_, err = s.GetActivation("guest", id(3))
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, id(3))
	_, err = s.GetActivation("guest", "nope")
	require.ErrorIs(t, err, ErrInvalid)
	st := s.Stats()
	require.Equal(t, 2, st.Activations)
	require.Equal(t, uint64(2), st.Appends)
}

func TestAppendInvalid(t *testing.T) {
	s, _ := openDisk(t, Options{MaxRecordBytes: 4096})
	good := activation(id(1), "guest", "a", 1, 1)
	for name, c := range map[string]func(a *whisk.Activation){
		"empty id":       func(a *whisk.Activation) { a.ActivationID = "" },
		"upper-case id":  func(a *whisk.Activation) { a.ActivationID = strings.ToUpper(id(0xabc)) },
		"short id":       func(a *whisk.Activation) { a.ActivationID = id(1)[1:] },
		"long id":        func(a *whisk.Activation) { a.ActivationID = id(1) + "0" },
		"non-hex id":     func(a *whisk.Activation) { a.ActivationID = strings.Repeat("g", 32) },
		"no namespace":   func(a *whisk.Activation) { a.Namespace = "" },
		"status code 7":  func(a *whisk.Activation) { a.Response = nil; a.StatusCode = ptr(7) },
		"too large":      func(a *whisk.Activation) { a.Logs = []string{strings.Repeat("x", 5000)} },
		"bad annotation": func(a *whisk.Activation) { a.Annotations = whisk.KeyValues{{Key: "k", Value: []byte("{")}} },
	} {
		a := good
		c(&a)
		err := s.Append(a)
		require.ErrorIs(t, err, ErrInvalid, name)
	}
	err := s.Append(activation(id(1), "guest", "a", 1, 200))
	require.ErrorContains(t, err, "limit")
	require.Zero(t, s.Stats().Activations)
	require.NoError(t, s.Append(good))
}

func TestAppendDuplicate(t *testing.T) {
	s, _ := openDisk(t, Options{})
	a := activation(id(7), "guest", "a", 1, 1)
	require.NoError(t, s.Append(a))
	err := s.Append(a)
	require.ErrorIs(t, err, ErrExists)
	require.ErrorContains(t, err, id(7))
	// Across namespaces too: ids are global.
	b := activation(id(7), "other", "a", 1, 1)
	require.ErrorIs(t, s.Append(b), ErrExists)

	// The same new id from many goroutines at once: one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, exists int
	for range 16 {
		wg.Go(func() {
			err := s.Append(activation(id(8), "guest", "a", 2, 1))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case strings.Contains(err.Error(), "exists"):
				exists++
			default:
				t.Errorf("append: %v", err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, ok)
	require.Equal(t, 15, exists)
	s = reopen(t, s)
	require.ErrorIs(t, s.Append(a), ErrExists)
	require.Equal(t, 2, s.Stats().Activations)
}

// model is the list a query must return, computed the slow way.
func model(all []whisk.Activation, ns string, q Query) []whisk.Activation {
	out := []whisk.Activation{}
	for i := len(all) - 1; i >= 0; i-- { // later appended first among ties
		a := all[i]
		if a.Namespace != ns || q.Name != "" && a.Name != q.Name ||
			q.Since > 0 && a.Start < q.Since || q.Upto > 0 && a.Start > q.Upto {
			continue
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b whisk.Activation) int { return cmp.Compare(b.Start, a.Start) })
	out = out[min(q.Skip, len(out)):]
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func summaries(as []whisk.Activation) []whisk.Activation {
	out := make([]whisk.Activation, len(as))
	for i, a := range as {
		out[i] = a.Summary()
	}
	return out
}

// TestListActivations checks every Query field, alone and together, in
// summaries and full records, against a model, before and after a restart.
func TestListActivations(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	s, _ := openDisk(t, Options{SegmentBytes: 8 << 10})
	var all []whisk.Activation
	names := []string{"a", "b", "c"}
	for i := range 300 {
		ns := []string{"guest", "other"}[r.IntN(2)]
		// Starts mostly increase, with ties and stragglers.
		start := int64(1000 + i*10 - r.IntN(3)*25)
		a := activation(id(i+1), ns, names[r.IntN(len(names))], start, r.IntN(3))
		require.NoError(t, s.Append(a))
		all = append(all, a)
	}
	require.Greater(t, s.Stats().Segments, 3)
	queries := []Query{
		{},
		{Name: "a"},
		{Name: "zzz"},
		{Since: 2000},
		{Upto: 2000},
		{Since: 1500, Upto: 2500},
		{Since: 2000, Upto: 2000},
		{Since: 1505, Upto: 1505},
		{Since: 3000, Upto: 2000},
		{Skip: 10},
		{Limit: 7},
		{Skip: 5, Limit: 5},
		{Skip: 1000},
		{Name: "b", Since: 1200, Upto: 3000, Skip: 3, Limit: 10},
		{Name: "c", Limit: 1},
	}
	check := func(s *Store) {
		t.Helper()
		for _, ns := range []string{"guest", "other", "nobody"} {
			for _, q := range queries {
				want := model(all, ns, q)
				got, err := s.ListActivations(ns, q, true)
				require.NoError(t, err)
				requireJSON(t, want, got, "%s %+v docs", ns, q)
				got, err = s.ListActivations(ns, q, false)
				require.NoError(t, err)
				requireJSON(t, summaries(want), got, "%s %+v summaries", ns, q)
				cq := q
				cq.Skip, cq.Limit = 0, 0
				require.Equal(t, len(model(all, ns, cq)), s.CountActivations(ns, q), "%s %+v count", ns, q)
			}
		}
	}
	check(s)
	s = reopen(t, s)
	check(s)
	_, err := s.ListActivations("guest", Query{Skip: -1}, false)
	require.ErrorIs(t, err, ErrInvalid)
}

func TestSummaryAndDocs(t *testing.T) {
	s, _ := openDisk(t, Options{})
	a := activation(id(1), "guest", "hello", 10, 2)
	a.Response = &whisk.Response{Status: whisk.StatusApplicationError, Result: []byte(`{"error":"no"}`)}
	require.NoError(t, s.Append(a))
	sums, err := s.ListActivations("guest", Query{}, false)
	require.NoError(t, err)
	require.Len(t, sums, 1)
	sum := sums[0]
	require.Nil(t, sum.Response)
	require.Nil(t, sum.Logs)
	require.NotNil(t, sum.StatusCode)
	require.Equal(t, whisk.CodeApplicationError, *sum.StatusCode)
	requireJSON(t, a.Summary(), sum)
	require.JSONEq(t, `"guest/hello"`, string(sum.Annotations.Get("path")))

	docs, err := s.ListActivations("guest", Query{}, true)
	require.NoError(t, err)
	require.Equal(t, []whisk.Activation{a}, docs)
	require.Len(t, docs[0].Logs, 2)
}

func TestNamespaceIsolation(t *testing.T) {
	s, _ := openDisk(t, Options{})
	require.NoError(t, s.Append(activation(id(1), "alice", "secret", 10, 1)))
	require.NoError(t, s.Append(activation(id(2), "bob", "public", 10, 1)))
	_, err := s.GetActivation("bob", id(1))
	require.ErrorIs(t, err, ErrNotFound)
	require.NotContains(t, err.Error(), "alice")
	for _, docs := range []bool{false, true} {
		list, err := s.ListActivations("bob", Query{}, docs)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, id(2), list[0].ActivationID)
		list, err = s.ListActivations("bob", Query{Name: "secret"}, docs)
		require.NoError(t, err)
		require.Empty(t, list)
	}
	require.Equal(t, 0, s.CountActivations("bob", Query{Name: "secret"}))
	require.Equal(t, 1, s.CountActivations("alice", Query{}))
	_, err = s.GetActivation("alice", id(1))
	require.NoError(t, err)
}

// TestOrdering: newest start first, ties by append order, later first.
func TestOrdering(t *testing.T) {
	s, _ := openDisk(t, Options{})
	starts := []int64{50, 10, 30, 30, 20, 30, 5}
	for i, st := range starts {
		require.NoError(t, s.Append(activation(id(i+1), "guest", "a", st, 0)))
	}
	check := func(s *Store) {
		list, err := s.ListActivations("guest", Query{}, false)
		require.NoError(t, err)
		var got []string
		for _, a := range list {
			got = append(got, fmt.Sprintf("%d/%s", a.Start, a.ActivationID[31:]))
		}
		require.Equal(t, []string{"50/1", "30/6", "30/4", "30/3", "20/5", "10/2", "5/7"}, got)
	}
	check(s)
	check(reopen(t, s))
}

// TestRetentionByCount keeps the newest MaxActivations records across
// segment rotation, deletes segments left empty, and keeps the rule after a
// restart.
func TestRetentionByCount(t *testing.T) {
	const max = 40
	s, dir := openDisk(t, Options{MaxActivations: max, SegmentBytes: 4 << 10})
	for i := range 200 {
		require.NoError(t, s.Append(activation(id(i+1), "guest", "a", int64(i), 1)))
		require.LessOrEqual(t, s.Stats().Activations, max)
	}
	check := func(s *Store) {
		t.Helper()
		st := s.Stats()
		require.Equal(t, max, st.Activations)
		require.Equal(t, max, s.CountActivations("guest", Query{}))
		for i := range 200 {
			_, err := s.GetActivation("guest", id(i+1))
			if i < 200-max {
				require.ErrorIs(t, err, ErrNotFound, i)
			} else {
				require.NoError(t, err, i)
			}
		}
		require.Equal(t, st.Segments, len(segmentFiles(t, dir)))
		// 40 records of ~600 bytes fit in a few 4 KiB segments: the
		// emptied ones are gone.
		require.LessOrEqual(t, st.Segments, 10)
		list, err := s.ListActivations("guest", Query{}, true)
		require.NoError(t, err)
		require.Len(t, list, max)
		require.Equal(t, id(200), list[0].ActivationID)
	}
	check(s)
	require.Equal(t, uint64(200-max), s.Stats().Dropped)
	check(reopen(t, s))
}

// TestRetentionByBytes drops whole oldest segments past MaxBytes, never the
// one being written.
func TestRetentionByBytes(t *testing.T) {
	const maxBytes = 16 << 10
	s, dir := openDisk(t, Options{MaxBytes: maxBytes, SegmentBytes: 4 << 10})
	for i := range 200 {
		require.NoError(t, s.Append(activation(id(i+1), "guest", "a", int64(i), 1)))
		require.LessOrEqual(t, s.Stats().Bytes, int64(maxBytes), i)
	}
	check := func(s *Store) {
		t.Helper()
		st := s.Stats()
		require.LessOrEqual(t, st.Bytes, int64(maxBytes))
		require.Greater(t, st.Bytes, int64(maxBytes-2*(4<<10)))
		files := segmentFiles(t, dir)
		require.Equal(t, st.Segments, len(files))
		var sum int64
		for _, f := range files {
			fi, err := os.Stat(f)
			require.NoError(t, err)
			sum += fi.Size()
		}
		require.Equal(t, st.Bytes, sum)
		// The kept records are the newest ones, without gaps.
		list, err := s.ListActivations("guest", Query{}, false)
		require.NoError(t, err)
		require.Equal(t, st.Activations, len(list))
		for i, a := range list {
			require.Equal(t, id(200-i), a.ActivationID)
		}
		_, err = s.GetActivation("guest", id(1))
		require.ErrorIs(t, err, ErrNotFound)
	}
	check(s)
	s = reopen(t, s)
	check(s)

	// A record larger than a segment still goes in, alone, and is kept.
	big := activation(id(1000), "guest", "big", 1000, 100)
	require.NoError(t, s.Append(big))
	got, err := s.GetActivation("guest", id(1000))
	require.NoError(t, err)
	require.Equal(t, big, got)
}

// TestActivationsRestart keeps every record, full, across Close and Open.
func TestActivationsRestart(t *testing.T) {
	s, _ := openDisk(t, Options{SegmentBytes: 16 << 10})
	var all []whisk.Activation
	for i := range 100 {
		a := activation(id(i+1), []string{"guest", "other"}[i%2], "a", int64(i*7%50), i%4)
		require.NoError(t, s.Append(a))
		all = append(all, a)
	}
	before := s.Stats()
	s = reopen(t, s)
	after := s.Stats()
	require.Equal(t, before.Activations, after.Activations)
	require.Equal(t, before.Segments, after.Segments)
	require.Equal(t, before.Bytes, after.Bytes)
	require.Zero(t, after.Truncated)
	for _, a := range all {
		got, err := s.GetActivation(a.Namespace, a.ActivationID)
		require.NoError(t, err)
		require.Equal(t, a, got)
	}
	for _, ns := range []string{"guest", "other"} {
		list, err := s.ListActivations(ns, Query{}, false)
		require.NoError(t, err)
		requireJSON(t, summaries(model(all, ns, Query{})), list)
	}
	// Appends go on where they were.
	require.NoError(t, s.Append(activation(id(500), "guest", "a", 1, 0)))
	require.Equal(t, 101, s.Stats().Activations)
}

// TestGroupCommit holds the fsync of a first append until 63 more appends
// are queued: they all go in the next batch, with one fsync.
func TestGroupCommit(t *testing.T) {
	m := vfstest.NewMemFS()
	e := vfstest.NewErrFS(m)
	s := openT(t, e, memDir, Options{})
	var once sync.Once
	held := make(chan struct{})
	e.SetInjector(func(op vfstest.Op, name string) error {
		if op == vfstest.OpSync && strings.Contains(name, "seg-") {
			once.Do(func() {
				close(held)
				for len(s.w.reqs) < 63 {
					runtimeYield()
				}
			})
		}
		return nil
	})
	var wg sync.WaitGroup
	wg.Go(func() { require.NoError(t, s.Append(activation(id(1), "guest", "a", 0, 1))) })
	<-held
	for i := 1; i < 64; i++ {
		wg.Go(func() { require.NoError(t, s.Append(activation(id(i+1), "guest", "a", int64(i), 1))) })
	}
	wg.Wait()
	st := s.Stats()
	require.Equal(t, uint64(64), st.Appends)
	require.Equal(t, uint64(2), st.Syncs)
	require.Equal(t, 64, st.Activations)
}

// TestConcurrentAppends appends from many goroutines at once, with lists
// and gets going on beside, on disk; every record is kept intact, in fewer
// fsyncs than records.
func TestConcurrentAppends(t *testing.T) {
	s, _ := openDisk(t, Options{SegmentBytes: 64 << 10})
	const workers, each = 32, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i + 1
				require.NoError(t, s.Append(activation(id(n), "guest", fmt.Sprint("a", w%4), int64(n), 2)))
				if i%5 == 0 {
					_, err := s.ListActivations("guest", Query{Limit: 10}, i%10 == 0)
					require.NoError(t, err)
					_, err = s.GetActivation("guest", id(n))
					require.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	require.Equal(t, workers*each, st.Activations)
	t.Logf("%d appends in %d group commits (%.1f records per fsync)", st.Appends, st.Syncs, float64(st.Appends)/float64(st.Syncs))
	s = reopen(t, s)
	for n := 1; n <= workers*each; n++ {
		got, err := s.GetActivation("guest", id(n))
		require.NoError(t, err)
		require.Equal(t, activation(id(n), "guest", got.Name, int64(n), 2), got)
	}
}

func TestClosedAndLocked(t *testing.T) {
	s, dir := openDisk(t, Options{})
	_, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorContains(t, err, dir)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Append(activation(id(1), "guest", "a", 1, 0)), ErrClosed)
	_, err = s.GetActivation("guest", id(1))
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.ListActivations("guest", Query{}, false)
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.GetAction("guest", "a", false)
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.UpdateAction("guest", "a", func(*whisk.Action) (*whisk.Action, error) { return nil, nil })
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.DeleteAction("guest", "a")
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.ListActions("guest", 0, 0)
	require.ErrorIs(t, err, ErrClosed)

	// Closed, the directory is free again.
	s2, err := Open(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
}

// TestCloseWithAppendsInFlight: appends racing Close either succeed (and
// are durable) or fail with ErrClosed; Close never hangs.
func TestCloseWithAppendsInFlight(t *testing.T) {
	s, dir := openDisk(t, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []string
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				aid := id(w*1_000_000 + i + 1)
				err := s.Append(activation(aid, "guest", "a", 1, 0))
				if err != nil {
					require.ErrorIs(t, err, ErrClosed)
					return
				}
				mu.Lock()
				acked = append(acked, aid)
				mu.Unlock()
			}
		})
	}
	for s.Stats().Appends < 50 {
		runtimeYield()
	}
	require.NoError(t, s.Close())
	wg.Wait()
	s2 := openT(t, s.fs, dir, Options{})
	for _, aid := range acked {
		_, err := s2.GetActivation("guest", aid)
		require.NoError(t, err)
	}
}

// The index shares equal annotations between entries, and its table of
// them stays bounded however many distinct ones arrive.
func TestIndexInternsAnnotations(t *testing.T) {
	s, _ := openMem(t, Options{})
	ann := func(wait int) whisk.KeyValues {
		return whisk.KeyValues{}.Set("path", "guest/a").Set("kind", "go:1.26").Set("waitTime", wait)
	}
	n := maxAnnotations + 10
	for i := range n {
		a := activation(id(i), "guest", "a", int64(i+1), 0)
		a.Annotations = ann(max(0, i-1)) // records 0 and 1 alike, then all distinct
		require.NoError(t, s.Append(a))
	}
	entry := func(i int) *entry {
		var k [16]byte
		_, err := hex.Decode(k[:], []byte(id(i)))
		require.NoError(t, err)
		e := s.idx.byID[k]
		require.NotNil(t, e, "record %d", i)
		return e
	}
	s.mu.Lock()
	e0, e1, e2 := entry(0), entry(1), entry(2)
	require.Same(t, &e0.annotations[0], &e1.annotations[0], "equal annotations are shared")
	require.NotSame(t, &e0.annotations[0], &e2.annotations[0])
	require.LessOrEqual(t, len(s.idx.annotations), maxAnnotations)
	s.mu.Unlock()
	// Lists are built from the index alone.
	list, err := s.ListActivations("guest", Query{}, false)
	require.NoError(t, err)
	require.Len(t, list, n)
	for _, a := range list {
		i, err := strconv.ParseInt(a.ActivationID, 16, 64)
		require.NoError(t, err)
		require.Equal(t, ann(max(0, int(i)-1)), a.Annotations, "record %d", i)
	}
}
