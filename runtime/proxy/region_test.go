package proxy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
)

func TestRegionNamesAreDistinctAndValid(t *testing.T) {
	ids := []Identity{
		{"guest", "/guest/counter"},
		{"guest", "/guest/pkg/counter"},
		{"guest", "/guest/pkg+counter"},
		{"guest", "/guest/pkg_counter"},
		{"other", "/other/counter"},
		{"other", "/guest/counter"}, // guest's action invoked from other
		{"guest", "/other/counter"},
		{"a+b", "/a+b/c"},
		{"a", "/a/b+c"},
		{"user@example.com_dev", "/user@example.com_dev/hello world"},
		{"user@example.com_dev", "/user@example.com_dev/hello=20world"},
		{"x", "/x/" + strings.Repeat("long", 100)},
		{"x", "/x/" + strings.Repeat("long", 100) + "er"},
	}
	seen := map[string]Identity{}
	for _, id := range ids {
		name := id.RegionName()
		require.NoError(t, pmem.ValidName(name), "%v → %q", id, name)
		if prev, ok := seen[name]; ok {
			t.Fatalf("%v and %v share region %q", prev, id, name)
		}
		seen[name] = id
	}
	require.Equal(t, "fn+guest+counter", Identity{"guest", "/guest/counter"}.RegionName())
	require.Equal(t, "fx+other+guest+counter", Identity{"other", "/guest/counter"}.RegionName())
}

func TestFilesDirStaysInside(t *testing.T) {
	for _, ns := range []string{"guest", "a/b", "..x", "x.."} {
		id := Identity{Namespace: ns, Action: "/" + ns + "/a"}
		dir := id.FilesDir("/data")
		require.True(t, strings.HasPrefix(dir, "/data/fs/"), dir)
		require.NotContains(t, strings.TrimPrefix(dir, "/data/fs/"), "/", dir)
	}
}

func TestNewIdentity(t *testing.T) {
	id, err := NewIdentity("guest", "guest/pkg/a")
	require.NoError(t, err)
	require.Equal(t, Identity{"guest", "/guest/pkg/a"}, id)
	for _, bad := range [][2]string{
		{"", "/guest/a"}, {"guest", ""}, {"guest", "/guest"}, {"guest", "/a/b/c/d"},
		{"guest", "/guest//a"}, {"guest", "/guest/.."}, {"gu\nest", "/guest/a"}, {"guest", "/guest/a\x00"},
	} {
		_, err := NewIdentity(bad[0], bad[1])
		require.Error(t, err, "%q", bad)
	}
}
