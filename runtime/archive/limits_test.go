package archive_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/archive"
)

func TestDefaultLimits(t *testing.T) {
	d := archive.DefaultLimits()
	require.Equal(t, archive.Limits{
		MaxFiles:      10000,
		MaxFileBytes:  256 << 20,
		MaxTotalBytes: 512 << 20,
		MaxNameBytes:  1024,
		MaxDepth:      64,
	}, d)
	require.NoError(t, d.Validate())

	// A fresh value each time.
	d.MaxFiles = 1
	require.Equal(t, 10000, archive.DefaultLimits().MaxFiles)

	var zero archive.Limits
	require.NoError(t, zero.Validate(), "zero fields take the defaults")
}

func TestLimitsValidateReportsEveryField(t *testing.T) {
	l := archive.Limits{MaxFiles: -1, MaxFileBytes: -2, MaxTotalBytes: -3, MaxNameBytes: -4, MaxDepth: -5}
	err := l.Validate()
	require.ErrorIs(t, err, archive.ErrInvalid)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	require.Len(t, joined.Unwrap(), 5)
	for _, e := range joined.Unwrap() {
		require.ErrorIs(t, e, archive.ErrInvalid)
	}
	for _, field := range []string{"MaxFiles -1", "MaxFileBytes -2", "MaxTotalBytes -3", "MaxNameBytes -4", "MaxDepth -5"} {
		require.Contains(t, err.Error(), field)
	}

	one := archive.Limits{MaxDepth: -1}
	err = one.Validate()
	require.ErrorIs(t, err, archive.ErrInvalid)
	require.NotContains(t, err.Error(), "MaxFiles")
}
