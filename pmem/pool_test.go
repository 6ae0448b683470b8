package pmem_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/marvel-serverless/marvel/pmem"
)

const kib = 1 << 10

// poolClock is a fake clock that moves only when told to.
type poolClock struct {
	mu sync.Mutex
	t  time.Time
}

func newPoolClock() *poolClock { return &poolClock{t: time.Unix(1_700_000_000, 0)} }

func (c *poolClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *poolClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// poolOptions are options with a fake clock and no reaper goroutine: tests
// drive reclamation with Reap.
func poolOptions(capacity int64, clk *poolClock) pmem.PoolOptions {
	o := pmem.DefaultPoolOptions()
	o.Capacity = capacity
	o.Clock = clk.Now
	o.Region.Mode = pmem.ModeEmulated
	return o
}

func newTestPool(t testing.TB, dir string, opts pmem.PoolOptions) *pmem.Pool {
	t.Helper()
	p, err := pmem.NewPool(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func regionStatus(t *testing.T, p *pmem.Pool, name string) pmem.RegionStatus {
	t.Helper()
	for _, rs := range p.Regions() {
		if rs.Name == name {
			return rs
		}
	}
	t.Fatalf("region %q not in the pool", name)
	return pmem.RegionStatus{}
}

func regionExists(t *testing.T, dir, name string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, name+pmem.RegionExt))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestPoolGrantReleaseKeepRegrant(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(1<<20, clk))

	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:guest/counter", Name: "counter", Size: 256 * kib})
	require.NoError(t, err)
	require.Equal(t, "counter", l.Name())
	require.Equal(t, "fn:guest/counter", l.Owner())
	require.False(t, l.Pinned())
	require.Equal(t, clk.Now().Add(pmem.DefaultLease), l.Expires())
	require.NoError(t, l.Store().Put("count", []byte("41")))
	info := l.Store().Info()
	require.Equal(t, "fn:guest/counter", info.Owner)
	require.False(t, info.Pinned)

	st := p.Stats()
	require.Equal(t, pmem.PoolStats{Capacity: 1 << 20, Reserved: 256 * kib, Used: 256 * kib, Free: 768 * kib,
		Regions: 1, Leased: 1, Grants: 1}, st)
	rs := regionStatus(t, p, "counter")
	require.Equal(t, pmem.StateLeased, rs.State)
	require.True(t, rs.Leased)

	store := l.Store()
	require.NoError(t, l.Release(true))
	require.ErrorIs(t, store.Put("x", []byte("y")), pmem.ErrClosed)
	require.ErrorIs(t, l.Release(true), pmem.ErrClosed)
	require.ErrorIs(t, l.Renew(), pmem.ErrClosed)
	require.True(t, regionExists(t, dir, "counter"))
	st = p.Stats()
	require.Equal(t, int64(256*kib), st.Reserved, "a kept region stays counted")
	require.Equal(t, 0, st.Leased)
	rs = regionStatus(t, p, "counter")
	require.Equal(t, pmem.StateAdopted, rs.State)
	require.False(t, rs.Leased)

	// A cold start of the same function gets its state back.
	l2, err := p.Grant(pmem.GrantRequest{Owner: "fn:guest/counter", Name: "counter", Size: 256 * kib})
	require.NoError(t, err)
	v, err := l2.Store().Get("count")
	require.NoError(t, err)
	require.Equal(t, "41", string(v))
	require.Equal(t, uint64(2), p.Stats().Grants)

	require.NoError(t, l2.Release(false))
	require.False(t, regionExists(t, dir, "counter"))
	require.Equal(t, pmem.PoolStats{Capacity: 1 << 20, Free: 1 << 20, Grants: 2}, p.Stats())
	require.Empty(t, p.Regions())
}

func TestPoolCapacityAccounting(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(512*kib, clk))

	a, err := p.Grant(pmem.GrantRequest{Owner: "job:1", Name: "a", Size: 256 * kib})
	require.NoError(t, err)
	_, err = p.Grant(pmem.GrantRequest{Owner: "job:2", Name: "b", Size: 192 * kib})
	require.NoError(t, err)
	require.Equal(t, int64(64*kib), p.Stats().Free)

	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "c", Size: 128 * kib})
	require.ErrorIs(t, err, pmem.ErrNoCapacity)
	var ce *pmem.CapacityError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, pmem.CapacityError{Asked: 128 * kib, Free: 64 * kib, Total: 512 * kib}, *ce)
	require.Contains(t, err.Error(), "asked for 131072 bytes, 65536 of 524288 free")
	require.False(t, regionExists(t, dir, "c"), "a refused grant creates nothing")

	// More than the whole budget is refused outright.
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "c", Size: 1 << 20})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, int64(1<<20), ce.Asked)

	// Exactly what is free fits.
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "d", Size: 64 * kib})
	require.NoError(t, err)
	require.Equal(t, int64(0), p.Stats().Free)

	require.NoError(t, a.Release(false))
	st := p.Stats()
	require.Equal(t, int64(256*kib), st.Free)
	require.Equal(t, int64(256*kib), st.Reserved)
	require.Equal(t, 2, st.Regions)
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "c", Size: 128 * kib})
	require.NoError(t, err)
	require.Equal(t, int64(128*kib), p.Stats().Free)
}

func TestPoolSizeBoundsGrowth(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	o := poolOptions(1<<20, clk)
	o.Region.InitialSize = 64 * kib
	p := newTestPool(t, dir, o)

	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "grow", Size: 256 * kib})
	require.NoError(t, err)
	require.Equal(t, int64(64*kib), regionStatus(t, p, "grow").Size)
	require.Equal(t, int64(256*kib), regionStatus(t, p, "grow").Reserved)
	val := make([]byte, 40*kib)
	var err2 error
	for i := 0; i < 16 && err2 == nil; i++ {
		err2 = l.Store().Put(fmt.Sprintf("k%d", i), val)
	}
	require.ErrorIs(t, err2, pmem.ErrFull, "the granted size bounds the region")
	require.Equal(t, int64(256*kib), regionStatus(t, p, "grow").Size)
	require.Equal(t, int64(256*kib), p.Stats().Used)

	// A re-grant asking for less still reserves the region's current size.
	require.NoError(t, l.Release(true))
	l, err = p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "grow", Size: 64 * kib})
	require.NoError(t, err)
	require.Equal(t, int64(256*kib), regionStatus(t, p, "grow").Reserved)
	require.Equal(t, int64(256*kib), p.Stats().Reserved)
	require.NoError(t, l.Release(false))
}

func TestPoolReclaimAfterGraceNotPinned(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(1<<20, clk))

	job, err := p.Grant(pmem.GrantRequest{Owner: "job:7", Name: "job7", Size: 128 * kib})
	require.NoError(t, err)
	pin, err := p.Grant(pmem.GrantRequest{Owner: "fn:keep", Name: "keep", Size: 128 * kib, Pinned: true})
	require.NoError(t, err)
	require.True(t, pin.Pinned())
	require.True(t, pin.Store().Info().Pinned)
	expiry := job.Expires()

	clk.Advance(pmem.DefaultLease)
	require.Equal(t, pmem.StateExpired, regionStatus(t, p, "job7").State)
	require.Equal(t, 0, p.Reap(), "expired but within grace")
	clk.Advance(pmem.DefaultGrace)
	require.Equal(t, expiry.Add(pmem.DefaultGrace), clk.Now())
	require.Equal(t, 0, p.Reap(), "exactly the grace period: not yet")
	require.True(t, regionExists(t, dir, "job7"))

	clk.Advance(time.Nanosecond)
	require.Equal(t, 1, p.Reap())
	require.False(t, regionExists(t, dir, "job7"))
	require.True(t, regionExists(t, dir, "keep"))
	st := p.Stats()
	require.Equal(t, uint64(1), st.Reclaims)
	require.Equal(t, int64(128*kib), st.Reserved)
	require.Equal(t, 1, st.Pinned)

	require.ErrorIs(t, job.Renew(), pmem.ErrLeaseExpired)
	require.ErrorIs(t, job.Release(true), pmem.ErrLeaseExpired)
	require.ErrorIs(t, job.Store().Put("k", []byte("v")), pmem.ErrClosed)

	// Pinned: never reclaimed, renewable at any time.
	clk.Advance(time.Hour)
	require.Equal(t, 0, p.Reap())
	require.Equal(t, pmem.StateExpired, regionStatus(t, p, "keep").State)
	require.NoError(t, pin.Store().Put("k", []byte("v")))
	require.NoError(t, pin.Renew())
	require.Equal(t, pmem.StateLeased, regionStatus(t, p, "keep").State)

	// Released with keep: pinned stays forever, unpinned goes after its
	// lease and grace.
	kept, err := p.Grant(pmem.GrantRequest{Owner: "fn:g", Name: "kept", Size: 64 * kib})
	require.NoError(t, err)
	require.NoError(t, kept.Release(true))
	require.NoError(t, pin.Release(true))
	require.Equal(t, 0, p.Reap())
	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace + time.Nanosecond)
	require.Equal(t, 1, p.Reap())
	require.False(t, regionExists(t, dir, "kept"))
	clk.Advance(24 * time.Hour)
	require.Equal(t, 0, p.Reap())
	rs := regionStatus(t, p, "keep")
	require.Equal(t, pmem.StateAdopted, rs.State)
	require.True(t, rs.Expires.IsZero())
}

func TestPoolRenewWithinGraceRevives(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(1<<20, clk))

	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "r", Size: 64 * kib})
	require.NoError(t, err)
	clk.Advance(1500 * time.Millisecond) // expired, within grace
	require.Equal(t, pmem.StateExpired, regionStatus(t, p, "r").State)
	require.NoError(t, l.Renew())
	require.Equal(t, clk.Now().Add(pmem.DefaultLease), l.Expires())
	require.Equal(t, pmem.StateLeased, regionStatus(t, p, "r").State)
	require.Equal(t, uint64(1), p.Stats().Renewals)

	clk.Advance(1999 * time.Millisecond)
	require.Equal(t, 0, p.Reap())
	require.NoError(t, l.Renew())

	// Past the grace period: not renewable, even before the reaper ran.
	clk.Advance(2*time.Second + time.Nanosecond)
	require.ErrorIs(t, l.Renew(), pmem.ErrLeaseExpired)
	require.Equal(t, 1, p.Reap())
	err = l.Renew()
	require.ErrorIs(t, err, pmem.ErrLeaseExpired)
	require.Contains(t, err.Error(), "reclaimed")
	require.Equal(t, uint64(2), p.Stats().Renewals)
}

func TestPoolGrantLiveNameExists(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(1<<20, clk))

	first, err := p.Grant(pmem.GrantRequest{Owner: "job:1", Name: "shared", Size: 64 * kib})
	require.NoError(t, err)
	require.NoError(t, first.Store().Put("k", []byte("from job 1")))

	_, err = p.Grant(pmem.GrantRequest{Owner: "job:2", Name: "shared", Size: 64 * kib})
	require.ErrorIs(t, err, pmem.ErrExist)
	require.Contains(t, err.Error(), `region "shared" is leased to "job:1" until`)

	// Once the lease expired (even within grace) the name can be granted
	// again: the new holder gets the data, the old one loses the lease.
	clk.Advance(pmem.DefaultLease)
	second, err := p.Grant(pmem.GrantRequest{Owner: "job:2", Name: "shared", Size: 64 * kib})
	require.NoError(t, err)
	v, err := second.Store().Get("k")
	require.NoError(t, err)
	require.Equal(t, "from job 1", string(v))
	require.Equal(t, "job:2", regionStatus(t, p, "shared").Owner)
	require.ErrorIs(t, first.Renew(), pmem.ErrLeaseExpired)
	require.ErrorIs(t, first.Release(false), pmem.ErrLeaseExpired)
	require.ErrorIs(t, first.Store().Put("k", []byte("stale")), pmem.ErrClosed)
	require.Equal(t, int64(64*kib), p.Stats().Reserved)
}

func TestPoolCapacityMovesFromJobToFunction(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(1<<20, clk))

	job, err := p.Grant(pmem.GrantRequest{Owner: "job:42", Name: "job42-shuffle", Size: 768 * kib})
	require.NoError(t, err)
	fn := pmem.GrantRequest{Owner: "fn:guest/counter", Name: "counter", Size: 512 * kib}
	_, err = p.Grant(fn)
	var ce *pmem.CapacityError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, int64(256*kib), ce.Free)

	// The job stops renewing; after lease and grace the function's grant
	// reclaims its region by itself (no Reap call).
	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace)
	_, err = p.Grant(fn)
	require.ErrorIs(t, err, pmem.ErrNoCapacity, "within grace the job keeps its capacity")
	clk.Advance(time.Nanosecond)
	l, err := p.Grant(fn)
	require.NoError(t, err)
	require.NoError(t, l.Store().Put("n", []byte("1")))
	st := p.Stats()
	require.Equal(t, uint64(1), st.Reclaims)
	require.Equal(t, int64(512*kib), st.Reserved)
	require.False(t, regionExists(t, dir, "job42-shuffle"))
	require.ErrorIs(t, job.Renew(), pmem.ErrLeaseExpired)
}

// writeRegion creates a region outside any pool, as a previous run would
// have left it.
func writeRegion(t *testing.T, dir, name, owner string, pinned bool, kv ...string) {
	t.Helper()
	o := pmem.DefaultOptions()
	o.Mode, o.Owner, o.Pinned, o.InitialSize = pmem.ModeEmulated, owner, pinned, 128*kib
	s, err := pmem.Create(dir, name, o)
	require.NoError(t, err)
	for i := 0; i+1 < len(kv); i += 2 {
		require.NoError(t, s.Put(kv[i], []byte(kv[i+1])))
	}
	require.NoError(t, s.Close())
}

func TestPoolAdoptsExistingRegions(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	writeRegion(t, dir, "pinned", "fn:a", true, "k", "pinned value")
	writeRegion(t, dir, "job", "job:1", false, "k", "job value")
	garbage := []byte(strings.Repeat("not a region ", 10000))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad"+pmem.RegionExt), garbage, 0o600))
	tmp := filepath.Join(dir, ".half"+pmem.RegionExt+".tmp-00112233aabb")
	require.NoError(t, os.WriteFile(tmp, []byte("partial"), 0o600))

	p := newTestPool(t, dir, poolOptions(1<<20, clk))
	_, err := os.Stat(tmp)
	require.ErrorIs(t, err, os.ErrNotExist, "temp files of interrupted creations are removed")

	regions := p.Regions()
	require.Len(t, regions, 3)
	bad, job, pin := regions[0], regions[1], regions[2]
	require.Equal(t, "bad", bad.Name)
	require.Equal(t, pmem.StateCorrupt, bad.State)
	require.Error(t, bad.Err)
	require.Equal(t, int64(len(garbage)), bad.Size)
	require.Equal(t, int64(len(garbage)), bad.Reserved)
	require.Equal(t, pmem.RegionStatus{Name: "job", Owner: "job:1", Reserved: 128 * kib, Size: 128 * kib,
		Expires: clk.Now().Add(pmem.DefaultLease), State: pmem.StateAdopted}, job)
	require.Equal(t, pmem.RegionStatus{Name: "pinned", Owner: "fn:a", Pinned: true, Reserved: 128 * kib, Size: 128 * kib,
		State: pmem.StateAdopted}, pin)
	st := p.Stats()
	require.Equal(t, int64(256*kib+len(garbage)), st.Reserved)
	require.Equal(t, st.Reserved, st.Used)
	require.Equal(t, 0, st.Leased)
	require.Equal(t, 1, st.Pinned)

	// The corrupt region cannot be granted, and is neither deleted nor
	// reclaimed.
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:b", Name: "bad", Size: 64 * kib})
	require.Error(t, err)
	require.True(t, errors.Is(err, pmem.ErrCorrupt) || errors.Is(err, pmem.ErrTruncated), "%v", err)
	require.Equal(t, pmem.StateCorrupt, regionStatus(t, p, "bad").State)

	// Pinned mismatch is refused; the right flag gets the data back.
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:a", Name: "pinned", Size: 128 * kib})
	require.ErrorIs(t, err, pmem.ErrInvalid)
	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:a", Name: "pinned", Size: 128 * kib, Pinned: true})
	require.NoError(t, err)
	v, err := l.Store().Get("k")
	require.NoError(t, err)
	require.Equal(t, "pinned value", string(v))
	require.NoError(t, l.Release(true))

	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace + time.Nanosecond)
	require.Equal(t, 1, p.Reap(), "the unpinned adopted region goes after lease+grace")
	require.False(t, regionExists(t, dir, "job"))
	require.True(t, regionExists(t, dir, "pinned"))
	require.True(t, regionExists(t, dir, "bad"))
	clk.Advance(time.Hour)
	require.Equal(t, 0, p.Reap())
	require.True(t, regionExists(t, dir, "bad"), "a corrupt region is never deleted by the pool")
	require.Equal(t, int64(128*kib+len(garbage)), p.Stats().Reserved)

	// An operator deletes the corrupt file: the next Reap forgets it.
	require.NoError(t, os.Remove(filepath.Join(dir, "bad"+pmem.RegionExt)))
	require.Equal(t, 0, p.Reap())
	require.Len(t, p.Regions(), 1)
	require.Equal(t, int64(128*kib), p.Stats().Reserved)
}

func TestPoolAdoptedRegionRegrantedOnColdStart(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	writeRegion(t, dir, "counter", "fn:guest/counter", false, "count", "7")
	p := newTestPool(t, dir, poolOptions(1<<20, clk))

	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace) // still within grace
	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:guest/counter", Name: "counter", Size: 512 * kib})
	require.NoError(t, err)
	v, err := l.Store().Get("count")
	require.NoError(t, err)
	require.Equal(t, "7", string(v))
	require.Equal(t, int64(512*kib), p.Stats().Reserved, "re-granting reserves the asked size")
	clk.Advance(pmem.DefaultLease / 2)
	require.Equal(t, 0, p.Reap())
}

func TestPoolAdoptedOverCapacity(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	writeRegion(t, dir, "a", "job:1", false)
	writeRegion(t, dir, "b", "job:2", true)
	p := newTestPool(t, dir, poolOptions(192*kib, clk))
	st := p.Stats()
	require.Equal(t, int64(256*kib), st.Reserved)
	require.Equal(t, int64(0), st.Free)
	_, err := p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "c", Size: 64 * kib})
	var ce *pmem.CapacityError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, int64(0), ce.Free)

	// Once the unpinned one is reclaimed there is room.
	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace + time.Nanosecond)
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "c", Size: 64 * kib})
	require.NoError(t, err)
	require.Equal(t, int64(0), p.Stats().Free)
}

func TestPoolReaperGoroutineAndClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	o := pmem.DefaultPoolOptions()
	o.Capacity = 1 << 20
	o.Lease, o.Grace = 50*time.Millisecond, 50*time.Millisecond
	o.Region.Mode = pmem.ModeEmulated
	p, err := pmem.NewPool(dir, o)
	require.NoError(t, err)

	job, err := p.Grant(pmem.GrantRequest{Owner: "job:1", Name: "job", Size: 64 * kib})
	require.NoError(t, err)
	pin, err := p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "pin", Size: 64 * kib, Pinned: true})
	require.NoError(t, err)

	require.Eventually(t, func() bool { return p.Stats().Reclaims == 1 }, 10*time.Second, 5*time.Millisecond)
	require.False(t, regionExists(t, dir, "job"))
	require.ErrorIs(t, job.Renew(), pmem.ErrLeaseExpired)
	require.ErrorIs(t, job.Store().Put("k", nil), pmem.ErrClosed)

	require.NoError(t, pin.Store().Put("k", []byte("v")))
	require.NoError(t, p.Close())
	require.ErrorIs(t, pin.Store().Put("k", []byte("w")), pmem.ErrClosed, "Close closes the stores")
	require.ErrorIs(t, pin.Renew(), pmem.ErrClosed)
	require.ErrorIs(t, pin.Release(false), pmem.ErrClosed)
	require.True(t, regionExists(t, dir, "pin"), "regions stay on disk")
	require.ErrorIs(t, p.Close(), pmem.ErrClosed)
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "other", Size: 64 * kib})
	require.ErrorIs(t, err, pmem.ErrClosed)
	require.Equal(t, 0, p.Reap())

	// The data survived Close; a new pool adopts and re-grants it.
	o.Clock = newPoolClock().Now
	p2 := newTestPool(t, dir, o)
	l, err := p2.Grant(pmem.GrantRequest{Owner: "fn:f", Name: "pin", Size: 64 * kib, Pinned: true})
	require.NoError(t, err)
	v, err := l.Store().Get("k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v))
	require.NoError(t, p2.Close())
}

func TestPoolOptionsValidate(t *testing.T) {
	o := pmem.PoolOptions{
		Capacity:     0,
		Lease:        -time.Second,
		Grace:        -time.Second,
		ReapInterval: -time.Second,
		Region:       pmem.Options{ReadOnly: true, MaxSize: 1 << 20, Owner: "x", Pinned: true, InitialSize: 100},
	}
	err := o.Validate()
	require.ErrorIs(t, err, pmem.ErrInvalid)
	msg := err.Error()
	for _, want := range []string{"capacity", "lease", "grace", "reap interval", "read-only", "MaxSize", "Owner", "Pinned", "initial size"} {
		require.Contains(t, msg, want)
	}
	var joined interface{ Unwrap() []error }
	require.ErrorAs(t, err, &joined)
	require.Len(t, joined.Unwrap(), 9)

	_, err = pmem.NewPool(t.TempDir(), o)
	require.ErrorIs(t, err, pmem.ErrInvalid)

	d := pmem.DefaultPoolOptions()
	require.ErrorIs(t, d.Validate(), pmem.ErrInvalid, "capacity is required")
	d.Capacity = 1 << 30
	require.NoError(t, d.Validate())

	_, err = pmem.NewPool(filepath.Join(t.TempDir(), "missing"), d)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestPoolGrantRequestValidate(t *testing.T) {
	p := newTestPool(t, t.TempDir(), poolOptions(1<<20, newPoolClock()))
	_, err := p.Grant(pmem.GrantRequest{Owner: "", Name: "../x", Size: 1024})
	require.ErrorIs(t, err, pmem.ErrInvalid)
	for _, want := range []string{"region name", "owner", "below the region minimum"} {
		require.Contains(t, err.Error(), want)
	}
	_, err = p.Grant(pmem.GrantRequest{Owner: strings.Repeat("o", 63), Name: "x", Size: 64 * kib})
	require.ErrorIs(t, err, pmem.ErrInvalid)
	require.Empty(t, p.Regions())
}

func TestPoolConcurrentGrants(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	const workers, rounds = 8, 10
	// Room for every worker's region and the contended one.
	p := newTestPool(t, dir, poolOptions((workers+1)*64*kib, clk))

	errs := make(chan error, 3*workers)
	stop := make(chan struct{})
	var observer sync.WaitGroup
	observer.Go(func() { // reaps and reads while the others work
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.Reap()
			if st := p.Stats(); st.Reserved > st.Capacity {
				errs <- fmt.Errorf("reserved %d above capacity %d", st.Reserved, st.Capacity)
				return
			}
			p.Regions()
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			name := fmt.Sprintf("fn-%d", w)
			req := pmem.GrantRequest{Owner: "fn:" + name, Name: name, Size: 64 * kib}
			for i := range rounds {
				l, err := p.Grant(req)
				if err != nil {
					errs <- err
					return
				}
				if i%2 == 1 { // kept by the previous round
					if v, err := l.Store().Get("round"); err != nil || string(v) != fmt.Sprint(i-1) {
						errs <- fmt.Errorf("%s round %d: got %q, %v", name, i, v, err)
						return
					}
				}
				if err := l.Store().Put("round", []byte(fmt.Sprint(i))); err != nil {
					errs <- err
					return
				}
				if err := l.Renew(); err != nil {
					errs <- err
					return
				}
				if err := l.Release(i%2 == 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// Contention on one name: exactly one winner, the others see ErrExist.
	var contenders sync.WaitGroup
	wins := make(chan *pmem.Lease, workers)
	for range workers {
		contenders.Go(func() {
			l, err := p.Grant(pmem.GrantRequest{Owner: "job:x", Name: "contended", Size: 64 * kib})
			if err == nil {
				wins <- l
			} else if !errors.Is(err, pmem.ErrExist) {
				errs <- err
			}
		})
	}
	contenders.Wait()
	close(wins)
	n := 0
	for l := range wins {
		n++
		require.NoError(t, l.Release(false))
	}
	wg.Wait()
	close(stop)
	observer.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, n)
	st := p.Stats()
	require.Equal(t, 0, st.Regions)
	require.Equal(t, int64(0), st.Reserved)
	require.Equal(t, uint64(workers*rounds+1), st.Grants)
	require.Equal(t, uint64(workers*rounds), st.Renewals)
}

func TestPoolGrantAdoptsUntrackedRegion(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(256*kib, clk))

	// Regions that appear in the namespace after NewPool are adopted when a
	// grant finds them, even if the grant fails.
	writeRegion(t, dir, "late", "fn:a", true)
	_, err := p.Grant(pmem.GrantRequest{Owner: "fn:b", Name: "late", Size: 64 * kib})
	require.ErrorIs(t, err, pmem.ErrInvalid)
	require.Contains(t, err.Error(), "pinned=true")
	require.Equal(t, pmem.RegionStatus{Name: "late", Owner: "fn:a", Pinned: true, Reserved: 128 * kib, Size: 128 * kib,
		State: pmem.StateAdopted}, regionStatus(t, p, "late"))

	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk"+pmem.RegionExt), make([]byte, 64*kib), 0o600))
	_, err = p.Grant(pmem.GrantRequest{Owner: "fn:c", Name: "junk", Size: 64 * kib})
	require.ErrorIs(t, err, pmem.ErrCorrupt)
	require.Equal(t, pmem.StateCorrupt, regionStatus(t, p, "junk").State)
	require.Equal(t, int64(192*kib), p.Stats().Reserved)

	// Larger than the grant asked and than what is free.
	writeRegion(t, dir, "big", "job:1", false, "k", "v")
	_, err = p.Grant(pmem.GrantRequest{Owner: "job:1", Name: "big", Size: 64 * kib})
	var ce *pmem.CapacityError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, pmem.CapacityError{Asked: 128 * kib, Free: 64 * kib, Total: 256 * kib}, *ce)
	rs := regionStatus(t, p, "big")
	require.Equal(t, pmem.StateAdopted, rs.State)
	require.Equal(t, int64(128*kib), rs.Reserved)
	st := p.Stats()
	require.Equal(t, int64(320*kib), st.Reserved)
	require.Equal(t, int64(0), st.Free)

	// Capacity comes back as the unpinned one expires; the corrupt and
	// pinned ones stay.
	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace + time.Nanosecond)
	require.Equal(t, 1, p.Reap())
	require.Equal(t, int64(192*kib), p.Stats().Reserved)
	require.True(t, regionExists(t, dir, "junk"))
	require.False(t, regionExists(t, dir, "big"))
}
