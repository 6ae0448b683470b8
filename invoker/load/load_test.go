package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
)

// The load's shape.
const (
	invokes      = 1000 // concurrent blocking invokes per round
	echoInstance = 8    // limits.concurrency of the echo action
	readers      = 64   // concurrent HDFS readers per round
	writers      = 8    // concurrent HDFS writers per round

	soakRetention = 5000 // activation records TestLoadSoak's server keeps
	hdfsDir       = "/guest/load"
)

// fileBytes is the size of each HDFS file; flatRounds the rounds of
// TestLoadResourcesFlat after its warm-up. Both are smaller under the race
// detector (raceEnabled).
var (
	fileBytes  = pick(512<<10, 4<<20)
	flatRounds = pick(2, 4)
)

func pick(race, norace int) int {
	if raceEnabled {
		return race
	}
	return norace
}

// errList collects a round's failures.
type errList struct {
	mu   sync.Mutex
	errs []error
}

func (e *errList) add(err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

// check fails t with the count and the first few failures.
func (e *errList) check(t testing.TB, what string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) == 0 {
		return
	}
	var b strings.Builder
	for _, err := range e.errs[:min(len(e.errs), 10)] {
		fmt.Fprintf(&b, "\n  %v", err)
	}
	t.Errorf("%s: %d failures; the first:%s", what, len(e.errs), b.String())
}

// invokeRound runs n blocking invokes of action at once (released together)
// and returns each one's latency; failures go to errs.
func (s *server) invokeRound(a *apiClient, action string, n int, errs *errList) []time.Duration {
	lat := make([]time.Duration, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	pad := strings.Repeat("x", 256)
	for i := range n {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			t0 := time.Now()
			st, body, err := s.do(ctx, a, http.MethodPost, "/api/v1/namespaces/_/actions/"+action+"?blocking=true&result=true",
				map[string]any{"i": i, "pad": pad})
			lat[i] = time.Since(t0)
			if err != nil {
				errs.add(fmt.Errorf("invoke %d: %w", i, err))
				return
			}
			if st != http.StatusOK {
				errs.add(fmt.Errorf("invoke %d: status %d: %s", i, st, body))
				return
			}
			var res struct {
				I   *int   `json:"i"`
				Pad string `json:"pad"`
			}
			if err := json.Unmarshal(body, &res); err != nil || res.I == nil || *res.I != i || res.Pad != pad {
				errs.add(fmt.Errorf("invoke %d: the echo answered %.200s (%v)", i, body, err))
			}
		})
	}
	close(start)
	wg.Wait()
	return lat
}

// percentiles of latencies, for the log.
type percentiles struct{ p50, p90, p99, max time.Duration }

func percentilesOf(lat []time.Duration) percentiles {
	l := slices.Clone(lat)
	slices.Sort(l)
	at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))] }
	return percentiles{at(0.50), at(0.90), at(0.99), l[len(l)-1]}
}

func (p percentiles) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %v, p90 %v, p99 %v, max %v", r(p.p50), r(p.p90), r(p.p99), r(p.max))
}

// content is file seed's bytes: fileBytes from a PCG seeded with seed.
func content(seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6d617276656c))
	b := make([]byte, fileBytes)
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// stableFiles are the files the readers read: written once, before the
// rounds, through HDFS.
type stableFiles struct {
	names []string
	want  [][]byte
}

func (s *server) writeStable(t testing.TB) *stableFiles {
	t.Helper()
	c := s.hdfsClient(t)
	defer c.Close()
	if err := c.MkdirAll(hdfsDir, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", hdfsDir, err)
	}
	sf := &stableFiles{}
	for j := range writers {
		name := path.Join(hdfsDir, "stable-"+strconv.Itoa(j))
		b := content(uint64(1000 + j))
		if err := writeFile(c, name, b); err != nil {
			t.Fatal(err)
		}
		sf.names, sf.want = append(sf.names, name), append(sf.want, b)
	}
	return sf
}

func writeFile(c *hdfs.Client, name string, b []byte) error {
	w, err := c.Create(name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	// In pieces, as a streaming writer would.
	for off := 0; off < len(b); off += 256 << 10 {
		if _, err := w.Write(b[off:min(len(b), off+256<<10)]); err != nil {
			w.Close()
			return fmt.Errorf("write %s at %d: %w", name, off, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

// hdfsRound runs readers readers of the stable files and writers writers
// of new files at once, over writers clients opened for the round (and
// closed after it); then it reads the new files back and deletes them.
// It returns the bytes moved.
func (s *server) hdfsRound(t testing.TB, sf *stableFiles, round int, errs *errList) int64 {
	t.Helper()
	clients := make([]*hdfs.Client, writers)
	for i := range clients {
		clients[i] = s.hdfsClient(t)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	written := make([]string, writers)
	want := make([][]byte, writers)
	for j := range writers {
		written[j] = path.Join(hdfsDir, fmt.Sprintf("round-%d-%d", round, j))
		want[j] = content(uint64(round)<<8 | uint64(j))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for j := range writers {
		wg.Go(func() {
			<-start
			if err := writeFile(clients[j], written[j], want[j]); err != nil {
				errs.add(err)
			}
		})
	}
	for i := range readers {
		wg.Go(func() {
			<-start
			k := i % len(sf.names)
			got, err := clients[i%writers].ReadFile(sf.names[k])
			switch {
			case err != nil:
				errs.add(fmt.Errorf("reader %d: %s: %w", i, sf.names[k], err))
			case !bytes.Equal(got, sf.want[k]):
				errs.add(fmt.Errorf("reader %d: %s: read %d bytes that differ from the %d written", i, sf.names[k], len(got), len(sf.want[k])))
			}
		})
	}
	close(start)
	wg.Wait()
	for j, name := range written {
		got, err := clients[j].ReadFile(name)
		switch {
		case err != nil:
			errs.add(fmt.Errorf("read back %s: %w", name, err))
		case !bytes.Equal(got, want[j]):
			errs.add(fmt.Errorf("read back %s: %d bytes that differ from the %d written", name, len(got), len(want[j])))
		}
		if err := clients[j].Remove(name); err != nil {
			errs.add(fmt.Errorf("remove %s: %w", name, err))
		}
	}
	return int64(readers+2*writers) * int64(fileBytes)
}

// instances counts the server's live children: its runtime instances.
func (s *server) instances() int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		i := strings.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(st[i+1:])
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(s.pid()) {
			n++
		}
	}
	return n
}

// TestLoadInvoke: 1,000 blocking invokes at once of a stateless action
// allowed 8 instances all succeed with their own parameters echoed, served
// by 2 to 8 instances; the latency percentiles and throughput are logged.
func TestLoadInvoke(t *testing.T) {
	s := startServer(t)
	s.putEcho(t, "echo", echoInstance)
	a := newAPIClient()
	defer a.close()
	var warm errList
	s.invokeRound(a, "echo", 2*echoInstance, &warm) // cold starts out of the measurement
	warm.check(t, "warm-up")

	var errs errList
	t0 := time.Now()
	lat := s.invokeRound(a, "echo", invokes, &errs)
	wall := time.Since(t0)
	errs.check(t, fmt.Sprintf("%d concurrent invokes", invokes))
	s.alive(t)
	n := s.instances()
	during := s.sample(t) // the client's 1,000 connections still open
	a.close()
	t.Logf("%d concurrent blocking invokes of echo (stateless, concurrency %d): %v in %v (%.0f/s), %d instances; with the connections open: %s; closed: %s",
		invokes, echoInstance, percentilesOf(lat), wall.Round(time.Millisecond), float64(invokes)/wall.Seconds(), n, during, s.quiesce(t))
	if n < 2 || n > echoInstance {
		t.Errorf("%d runtime instances served the load, want 2 to %d", n, echoInstance)
	}
}

// TestLoadHDFS: 64 readers and 8 writers of 4 MiB files at once through the
// bridge: every read equals what was written, no call fails.
func TestLoadHDFS(t *testing.T) {
	s := startServer(t)
	sf := s.writeStable(t)
	var errs errList
	t0 := time.Now()
	moved := s.hdfsRound(t, sf, 1, &errs)
	wall := time.Since(t0)
	errs.check(t, fmt.Sprintf("%d HDFS readers and %d writers", readers, writers))
	s.alive(t)
	t.Logf("%d readers and %d writers of %s files (+ read-back): %s moved in %v (%.0f MiB/s); %s",
		readers, writers, mib(int64(fileBytes)), mib(moved), wall.Round(time.Millisecond), float64(moved)/(1<<20)/wall.Seconds(), s.sample(t))
}

// mixRound runs one invoke round and one HDFS round at once.
func (s *server) mixRound(t testing.TB, sf *stableFiles, round int) (percentiles, time.Duration) {
	t.Helper()
	a := newAPIClient()
	defer a.close()
	var errs errList
	var lat []time.Duration
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { lat = s.invokeRound(a, "echo", invokes, &errs) })
	s.hdfsRound(t, sf, round, &errs)
	wg.Wait()
	errs.check(t, fmt.Sprintf("round %d", round))
	s.alive(t)
	return percentilesOf(lat), time.Since(t0)
}

// Bounds on growth after the warm-up round, chosen so that they do not
// flake yet a leak per request crosses them: a round makes 1,000 API
// requests and ~100 HDFS connections, so one leaked descriptor or goroutine
// per request adds ~1,000 per round; 16 KiB of heap per request adds
// 16 MiB per round.
const (
	fdSlack   = 32       // descriptors above the post-warm-up baseline, after a round
	goSlack   = 64       // goroutines above it
	heapSlack = 16 << 20 // bytes of live heap above it
)

// rssBound is how large RssAnon may get after the warm-up baseline base.
func rssBound(base int64) int64 { return base + base/2 + 48<<20 }

// TestLoadResourcesFlat runs a warm-up round and 4 rounds (2 under the
// race detector) of the mix (1,000
// concurrent invokes beside 64 HDFS readers and 8 writers), closing every
// client after each; after every round the server's descriptors and
// goroutines come back to the warm baseline, and its anonymous RSS stays
// within rssBound and does not grow round after round.
func TestLoadResourcesFlat(t *testing.T) {
	rounds := flatRounds
	s := startServer(t)
	before := s.sample(t)
	s.putEcho(t, "echo", echoInstance)
	sf := s.writeStable(t)
	p, d := s.mixRound(t, sf, 0)
	if t.Failed() {
		return
	}
	base := s.quiesce(t)
	t.Logf("before load: %s", before)
	t.Logf("warm-up round in %v (invokes %v); baseline after it: %s", d.Round(time.Millisecond), p, base)
	var after []usage
	for r := 1; r <= rounds; r++ {
		ps := s.samplePeaks(100 * time.Millisecond)
		p, d := s.mixRound(t, sf, r)
		peak := ps.end()
		u := s.settle(t, base, fdSlack, goSlack)
		after = append(after, u)
		t.Logf("round %d in %v (invokes %v): during, peak rss %s (anon %s), %d fds, %d goroutines; after: %s",
			r, d.Round(time.Millisecond), p, mib(peak.rss), mib(peak.rssAnon), peak.fds, peak.goroutines, u)
		if u.fds > base.fds+fdSlack {
			t.Errorf("round %d: %d descriptors open after the round, baseline %d: a leak (bound +%d)", r, u.fds, base.fds, fdSlack)
		}
		if u.goroutines > base.goroutines+goSlack {
			t.Errorf("round %d: %d goroutines after the round, baseline %d: a leak (bound +%d)", r, u.goroutines, base.goroutines, goSlack)
		}
		if u.heap > base.heap+heapSlack {
			t.Errorf("round %d: live heap %s after the round, baseline %s: a leak (bound +%s)", r, mib(u.heap), mib(base.heap), mib(heapSlack))
		}
		if u.rssAnon > rssBound(base.rssAnon) {
			t.Errorf("round %d: anonymous RSS %s after the round, baseline %s: over the bound %s", r, mib(u.rssAnon), mib(base.rssAnon), mib(rssBound(base.rssAnon)))
		}
		if t.Failed() {
			return
		}
	}
	// Monotonic growth in every round, by more than 8 MiB each time, is a
	// leak even within the bound.
	growing := true
	for i := 1; i < len(after); i++ {
		growing = growing && after[i].rssAnon > after[i-1].rssAnon+8<<20
	}
	if growing {
		t.Errorf("anonymous RSS grew by more than 8 MiB in every round: %v", after)
	}
}

// TestLoadSoak runs the mix in a loop for -load.soak (10 minutes with
// MARVEL_LONG=1), sampling the server every 10 s, and fails on any failed
// request or on growth past the flatness bounds.
func TestLoadSoak(t *testing.T) {
	d := *soakFlag
	if d == 0 && os.Getenv("MARVEL_LONG") == "1" {
		d = 10 * time.Minute
	}
	if d == 0 {
		t.Skip("a soak: run with -load.soak DURATION or MARVEL_LONG=1")
	}
	// The activation index holds one entry per record kept, so it grows
	// until the retention drops the oldest (and up to twice that until the
	// dropped entries are compacted). A small retention, reached during the
	// warm-up, makes every later round's growth a leak.
	s := startServer(t, "--max-activations", strconv.Itoa(soakRetention))
	s.putEcho(t, "echo", echoInstance)
	sf := s.writeStable(t)
	warm := 3 * soakRetention / invokes
	for r := range warm {
		s.mixRound(t, sf, r)
		if t.Failed() {
			return
		}
	}
	base := s.quiesce(t)
	t.Logf("soak of %v, retention %d activations; baseline after %d warm-up rounds: %s", d, soakRetention, warm, base)

	stop := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tk := time.NewTicker(10 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if u, err := s.readUsage(); err == nil {
				t.Logf("sample: %s", u)
			}
		}
	}()
	deadline := time.Now().Add(d)
	r := warm
	var heaps []int64 // live heap after each round
	for ; time.Now().Before(deadline) && !t.Failed(); r++ {
		s.mixRound(t, sf, r)
		u := s.settle(t, base, fdSlack, goSlack)
		heaps = append(heaps, u.heap)
		switch {
		case u.fds > base.fds+fdSlack:
			t.Errorf("round %d: %d descriptors open after the round, baseline %d", r, u.fds, base.fds)
		case u.goroutines > base.goroutines+goSlack:
			t.Errorf("round %d: %d goroutines after the round, baseline %d", r, u.goroutines, base.goroutines)
		case u.heap > base.heap+heapSlack:
			t.Errorf("round %d: live heap %s, baseline %s: a leak (bound +%s)", r, mib(u.heap), mib(base.heap), mib(heapSlack))
		case u.rssAnon > rssBound(base.rssAnon):
			t.Errorf("round %d: anonymous RSS %s, baseline %s, bound %s", r, mib(u.rssAnon), mib(base.rssAnon), mib(rssBound(base.rssAnon)))
		}
	}
	close(stop)
	<-samplerDone
	end := s.settle(t, base, fdSlack, goSlack)
	n := r - warm
	t.Logf("soak: %d rounds after the warm-up (%d invokes, %d HDFS reads, %d HDFS writes) in %v; baseline %s; end %s",
		n, n*invokes, n*readers, n*writers, d, base, end)
	// A leak too slow to cross heapSlack still shows as a trend: the live
	// heap of the last quarter of the rounds against the first quarter's.
	if q := len(heaps) / 4; q >= 2 {
		first, last := meanOf(heaps[:q]), meanOf(heaps[len(heaps)-q:])
		t.Logf("live heap after each round: min %s, max %s; mean of the first %d rounds %s, of the last %d %s",
			mib(slices.Min(heaps)), mib(slices.Max(heaps)), q, mib(first), q, mib(last))
		if last > first+soakTrend {
			t.Errorf("the live heap grew from %s to %s over the soak (bound +%s): a leak", mib(first), mib(last), mib(soakTrend))
		}
	}
}

// soakTrend bounds the growth of the live heap's mean from the first
// quarter of a soak to the last: about 50 bytes per request of a
// 10-minute soak.
const soakTrend = 8 << 20

func meanOf(v []int64) int64 {
	var sum int64
	for _, x := range v {
		sum += x
	}
	return sum / int64(len(v))
}
