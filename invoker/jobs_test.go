package invoker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
)

func TestJobRegions(t *testing.T) {
	v := newTestInvoker(t, func(c *Config) { c.Lease = 200 * time.Millisecond; c.Capacity = 4 << 20 })

	r, err := v.GrantJob("guest", "wordcount-1", 1<<20)
	require.NoError(t, err)
	require.Equal(t, "job+guest+wordcount-1", r.Region)
	require.Equal(t, []JobRegion{r}, v.Jobs("guest"))
	require.Empty(t, v.Jobs("other"), "a namespace sees only its own jobs")
	st := v.Pool().Stats()
	require.Equal(t, int64(1<<20), st.Reserved)

	// Renewing keeps it past several leases.
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		r2, err := v.GrantJob("guest", "wordcount-1", 1<<20)
		require.NoError(t, err)
		require.Equal(t, r.Region, r2.Region)
	}
	require.Len(t, v.Jobs("guest"), 1)

	// Capacity is bounded.
	_, err = v.GrantJob("guest", "too-big", 8<<20)
	require.ErrorIs(t, err, pmem.ErrNoCapacity)

	// Released when done: the region and its capacity go at once.
	require.NoError(t, v.ReleaseJob("guest", "wordcount-1"))
	require.Empty(t, v.Jobs("guest"))
	require.Zero(t, v.Pool().Stats().Reserved)
	require.ErrorIs(t, v.ReleaseJob("guest", "wordcount-1"), ErrNoJob)

	// A job that stops renewing loses its region after lease and grace.
	_, err = v.GrantJob("guest", "crashed-driver", 1<<20)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(v.Jobs("guest")) == 0 && v.Pool().Stats().Reserved == 0 },
		10*time.Second, 20*time.Millisecond, "a lapsed job region is reclaimed")

	_, err = v.GrantJob("guest", "../x", 1<<20)
	require.Error(t, err)
}
