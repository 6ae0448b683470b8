package harness

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFSType(t *testing.T) {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		typ, _ := fsType("/dev/shm")
		require.Equal(t, "tmpfs", typ)
	}
	typ, huge := fsType("/nonexistent-harness-dir")
	require.Empty(t, typ+huge)
	require.Equal(t, "/mnt/a b", unescapeMount(`/mnt/a\040b`))
	require.Positive(t, freeBytes(t.TempDir()))
	m := ThisMachine()
	require.NotEmpty(t, m.Kernel)
	require.Positive(t, m.MemoryBytes)
}
