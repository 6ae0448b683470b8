package vfstest

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCrashModel checks the crash model the crash points of package
// records rely on.
func TestCrashModel(t *testing.T) {
	m := NewMemFS()
	require.NoError(t, m.Mkdir("/d"))
	f, err := m.Create("/d/f")
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("synced"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())

	// The name is not durable until the directory is synced.
	_, err = m.Image(KeepAll, 0).ReadFile("/d/f")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, m.SyncDir("/"))
	require.NoError(t, m.SyncDir("/d"))
	_, err = f.WriteAt([]byte(" and more"), 6)
	require.NoError(t, err)

	b, err := m.Image(KeepNone, 0).ReadFile("/d/f")
	require.NoError(t, err)
	require.Equal(t, "synced", string(b))
	b, err = m.Image(KeepAll, 0).ReadFile("/d/f")
	require.NoError(t, err)
	require.Equal(t, "synced and more", string(b))
	for seed := range uint64(50) {
		b, err = m.Image(KeepRandom, seed).ReadFile("/d/f")
		require.NoError(t, err)
		require.Equal(t, "synced", string(b[:6]))
		require.LessOrEqual(t, len(b), 15)
	}

	// A rename is durable with its directory.
	g, err := m.Create("/d/g")
	require.NoError(t, err)
	require.NoError(t, g.Sync())
	require.NoError(t, m.Rename("/d/g", "/d/f"))
	_, err = m.Image(KeepAll, 0).ReadFile("/d/g")
	require.Error(t, err, "g was never durable under its name")
	b, err = m.Image(KeepAll, 0).ReadFile("/d/f")
	require.NoError(t, err)
	require.Equal(t, "synced and more", string(b))
	require.NoError(t, m.SyncDir("/d"))
	b, err = m.Image(KeepAll, 0).ReadFile("/d/f")
	require.NoError(t, err)
	require.Empty(t, b)

	// After the crash point every operation fails.
	m.CrashAt(m.Ops()+3, KeepNone, 0)
	_, err = f.WriteAt([]byte("x"), 0)
	require.NoError(t, err)
	require.NoError(t, m.SyncDir("/d"))
	require.True(t, errors.Is(m.Remove("/d/f"), ErrCrashed))
	_, err = m.Open("/d/f")
	require.ErrorIs(t, err, ErrCrashed)
	require.NotNil(t, m.Crashed())
}

func TestErrFS(t *testing.T) {
	m := NewMemFS()
	e := NewErrFS(m)
	f, err := e.Create("/f")
	require.NoError(t, err)
	boom := errors.New("boom")
	e.SetInjector(func(op Op, name string) error {
		if op == OpWrite && name == "/f" {
			return &ShortWrite{N: 3, Err: boom}
		}
		return nil
	})
	n, err := f.WriteAt([]byte("abcdef"), 0)
	require.Equal(t, 3, n)
	require.ErrorIs(t, err, boom)
	b, err := m.ReadFile("/f")
	require.NoError(t, err)
	require.Equal(t, "abc", string(b))
	e.SetInjector(nil)
	_, err = f.WriteAt([]byte("xyz"), 3)
	require.NoError(t, err)
	b, err = m.ReadFile("/f")
	require.NoError(t, err)
	require.Equal(t, "abcxyz", string(b))
}
