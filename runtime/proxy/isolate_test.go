package proxy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNamespaceUIDs(t *testing.T) {
	data := t.TempDir()
	a, err := namespaceUID(data, "guest", 200000, 3)
	require.NoError(t, err)
	b, err := namespaceUID(data, "other", 200000, 3)
	require.NoError(t, err)
	a2, err := namespaceUID(data, "guest", 200000, 3)
	require.NoError(t, err)
	require.Equal(t, 200000, a)
	require.Equal(t, 200001, b)
	require.Equal(t, a, a2, "a namespace keeps its user")
	c, err := namespaceUID(data, "user@example.com dev", 200000, 3)
	require.NoError(t, err)
	require.Equal(t, 200002, c)
	_, err = namespaceUID(data, "fourth", 200000, 3)
	require.ErrorContains(t, err, "all 3 users from 200000 are given out")

	fi, err := os.Stat(filepath.Join(data, uidFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	require.NoError(t, os.WriteFile(filepath.Join(data, uidFile), []byte("200000 guest\nnonsense\n"), 0o600))
	_, err = namespaceUID(data, "other", 200000, 3)
	require.ErrorContains(t, err, `damaged line "nonsense"`)
}

func TestIsolateOptions(t *testing.T) {
	o := DefaultOptions()
	o.WorkDir = t.TempDir()
	o.Isolate = true
	require.ErrorContains(t, o.Validate(), "needs a data directory")
	o.Data = t.TempDir()
	o.UIDBase = 1000
	require.ErrorContains(t, o.Validate(), "must start above 65534")
	if os.Geteuid() != 0 {
		o.UIDBase = 200000
		require.ErrorContains(t, o.Validate(), "needs the runtime to run as root")
	}
}
