package shuffle_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// badKeys are refused by ValidKey and by every store operation.
var badKeys = []string{
	"", "/", "/a", "a/", "a//b", ".a", "a/.b", ".", "..", "a/..", "a/./b",
	"a b", "a\x00b", "a\\b", "ä", "a*", "a?", "a[b]", "a:b",
	strings.Repeat("a", shuffle.MaxComponentLen+1),
	strings.Repeat("abcdefg/", 64) + "x", // 513 bytes
}

func TestValidKey(t *testing.T) {
	for _, k := range []string{
		"a", "A-Z_0.9", "job-7/map-3/part-0", "a.b/c..d/e-", "_/-/x",
		strings.Repeat("a", shuffle.MaxComponentLen),
		strings.Repeat("abcdefg/", 63) + "abcdefg",                                                 // 511 bytes
		strings.Repeat("a", 200) + "/" + strings.Repeat("b", 200) + "/" + strings.Repeat("c", 110), // 512 bytes
	} {
		require.NoError(t, shuffle.ValidKey(k), "%q", k)
	}
	for _, k := range badKeys {
		err := shuffle.ValidKey(k)
		require.ErrorIs(t, err, shuffle.ErrInvalidKey, "%q", k)
	}
	require.ErrorContains(t, shuffle.ValidKey("a//b"), "empty component")
	require.ErrorContains(t, shuffle.ValidKey("a/.tmp"), "starting with a dot")
	require.ErrorContains(t, shuffle.ValidKey("a b"), `byte ' '`)
}
