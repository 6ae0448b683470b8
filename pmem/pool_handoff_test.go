package pmem_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
)

// openElsewhere opens a handed-off region as another process would: the
// file read-write under the region's exclusive lock.
func openElsewhere(t *testing.T, l *pmem.Lease) *os.File {
	t.Helper()
	f, err := os.OpenFile(l.Path(), os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, pmem.LockFile(f))
	return f
}

func TestPoolHandoffGrant(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(1<<20, clk))

	l, err := p.Grant(pmem.GrantRequest{Owner: "fn:guest/counter", Name: "fn+guest+counter", Size: 256 * kib, Handoff: true})
	require.NoError(t, err)
	require.Nil(t, l.Store(), "a handed-off grant holds no store")
	require.True(t, regionExists(t, dir, "fn+guest+counter"), "the grant creates the region")

	// The process it is handed to opens it; the pool reports its size.
	f := openElsewhere(t, l)
	s, err := pmem.OpenFile(f, pmem.Options{Mode: pmem.ModeEmulated})
	require.NoError(t, err)
	require.NoError(t, s.Put("count", []byte("7")))
	require.NoError(t, s.Close())
	st := p.Stats()
	require.Equal(t, 1, st.Leased)
	require.Equal(t, int64(256*kib), st.Reserved)

	// Expired past grace while the other process still holds it: the
	// reaper must not delete it.
	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace + 1)
	require.Equal(t, 0, p.Reap())
	require.True(t, regionExists(t, dir, "fn+guest+counter"), "a region open elsewhere is never deleted")
	require.Equal(t, int64(256*kib), p.Stats().Reserved, "and stays counted")

	// Once the holder lets go, the next reap reclaims it.
	require.NoError(t, f.Close())
	clk.Advance(pmem.DefaultLease + pmem.DefaultGrace + 1)
	require.Equal(t, 1, p.Reap())
	require.False(t, regionExists(t, dir, "fn+guest+counter"))
	require.Equal(t, int64(0), p.Stats().Reserved)
}

func TestPoolHandoffPinnedKeepsData(t *testing.T) {
	dir, clk := t.TempDir(), newPoolClock()
	p := newTestPool(t, dir, poolOptions(1<<20, clk))
	req := pmem.GrantRequest{Owner: "fn:guest/counter", Name: "fn+guest+counter", Size: 256 * kib, Pinned: true, Handoff: true}

	l, err := p.Grant(req)
	require.NoError(t, err)
	f := openElsewhere(t, l)
	s, err := pmem.OpenFile(f, pmem.Options{Mode: pmem.ModeEmulated})
	require.NoError(t, err)
	require.NoError(t, s.Put("count", []byte("41")))
	require.NoError(t, s.Close())

	// Deleting a region still open elsewhere fails and keeps it.
	require.ErrorIs(t, l.Release(false), pmem.ErrLocked)
	require.True(t, regionExists(t, dir, req.Name))
	require.NoError(t, f.Close())

	clk.Advance(pmem.DefaultLease * 100)
	require.Equal(t, 0, p.Reap(), "pinned regions are never reclaimed")
	l2, err := p.Grant(req)
	require.NoError(t, err)
	f2 := openElsewhere(t, l2)
	s2, err := pmem.OpenFile(f2, pmem.Options{Mode: pmem.ModeEmulated})
	require.NoError(t, err)
	v, err := s2.Get("count")
	require.NoError(t, err)
	require.Equal(t, "41", string(v))
	require.NoError(t, s2.Close())
	require.NoError(t, f2.Close())
	require.NoError(t, l2.Release(false))
	require.False(t, regionExists(t, dir, req.Name))
}
