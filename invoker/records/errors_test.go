package records

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfstest"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// openErr opens a store on a MemFS behind an ErrFS.
func openErr(t *testing.T, opts Options) (*Store, *vfstest.ErrFS, *vfstest.MemFS) {
	t.Helper()
	m := vfstest.NewMemFS()
	e := vfstest.NewErrFS(m)
	return openT(t, e, memDir, opts), e, m
}

func failOn(op vfstest.Op, substr string, err error) vfstest.Injector {
	return func(o vfstest.Op, name string) error {
		if o == op && strings.Contains(name, substr) {
			return &os.PathError{Op: op.String(), Path: name, Err: err}
		}
		return nil
	}
}

// TestAppendDiskFull: a failed write is reported with its path, the error
// and what to do; what it left in the file is cut, and appends go on once
// there is room.
func TestAppendDiskFull(t *testing.T) {
	for _, short := range []int{0, 1, 40, 500} {
		t.Run(fmt.Sprint("short=", short), func(t *testing.T) {
			s, e, m := openErr(t, Options{})
			require.NoError(t, s.Append(activation(id(1), "guest", "a", 1, 1)))
			e.SetInjector(func(op vfstest.Op, name string) error {
				if op == vfstest.OpWrite && strings.Contains(name, "seg-") {
					return &vfstest.ShortWrite{N: short, Err: &os.PathError{Op: "write", Path: name, Err: syscall.ENOSPC}}
				}
				return nil
			})
			err := s.Append(activation(id(2), "guest", "a", 2, 1))
			require.ErrorIs(t, err, syscall.ENOSPC)
			require.ErrorContains(t, err, filepath.Join(memDir, segmentsDir, segmentName(1)))
			require.ErrorContains(t, err, "disk is full")
			_, err = s.GetActivation("guest", id(2))
			require.ErrorIs(t, err, ErrNotFound)

			e.SetInjector(nil)
			require.NoError(t, s.Append(activation(id(2), "guest", "a", 2, 1)))
			require.NoError(t, s.Append(activation(id(3), "guest", "a", 3, 1)))
			require.NoError(t, s.Close())
			s2, err := open(m, memDir, Options{})
			require.NoError(t, err)
			defer s2.Close()
			require.Zero(t, s2.Stats().Truncated, "the short write was cut at once")
			require.Equal(t, 3, s2.Stats().Activations)
		})
	}
}

// TestAppendSyncFails: after a failed fsync what is on disk is unknown, so
// the store refuses appends until reopened; reopening recovers.
func TestAppendSyncFails(t *testing.T) {
	s, e, m := openErr(t, Options{})
	require.NoError(t, s.Append(activation(id(1), "guest", "a", 1, 1)))
	e.SetInjector(failOn(vfstest.OpSync, "seg-", syscall.EIO))
	err := s.Append(activation(id(2), "guest", "a", 2, 1))
	require.ErrorIs(t, err, ErrPoisoned)
	require.ErrorIs(t, err, syscall.EIO)
	require.ErrorContains(t, err, "reopen")
	e.SetInjector(nil)
	require.ErrorIs(t, s.Append(activation(id(3), "guest", "a", 3, 1)), ErrPoisoned)
	// Reads go on.
	_, err = s.GetActivation("guest", id(1))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s2 := openT(t, m, memDir, Options{})
	require.NoError(t, s2.Append(activation(id(3), "guest", "a", 3, 1)))
	_, err = s2.GetActivation("guest", id(1))
	require.NoError(t, err)
}

// TestAppendCutBackFails: a failed write whose bytes cannot be cut poisons
// the store too.
func TestAppendCutBackFails(t *testing.T) {
	s, e, _ := openErr(t, Options{})
	e.SetInjector(func(op vfstest.Op, name string) error {
		if strings.Contains(name, "seg-") && (op == vfstest.OpWrite || op == vfstest.OpTruncate) {
			return &os.PathError{Op: op.String(), Path: name, Err: syscall.EIO}
		}
		return nil
	})
	err := s.Append(activation(id(1), "guest", "a", 1, 1))
	require.ErrorIs(t, err, syscall.EIO)
	e.SetInjector(nil)
	require.ErrorIs(t, s.Append(activation(id(2), "guest", "a", 2, 1)), ErrPoisoned)
}

// TestRotationFails: a segment that cannot be created fails the appends
// that needed it; the next ones try again.
func TestRotationFails(t *testing.T) {
	s, e, _ := openErr(t, Options{SegmentBytes: 4 << 10})
	i := 0
	for s.Stats().Segments == 1 {
		i++
		require.NoError(t, s.Append(activation(id(i), "guest", "a", int64(i), 1)))
	}
	e.SetInjector(failOn(vfstest.OpCreate, "seg-", syscall.ENOSPC))
	var err error
	for err == nil && i < 100 {
		i++
		err = s.Append(activation(id(i), "guest", "a", int64(i), 1))
	}
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.ErrorContains(t, err, "create activation segment")
	e.SetInjector(nil)
	require.NoError(t, s.Append(activation(id(i), "guest", "a", int64(i), 1)))
	require.Equal(t, 3, s.Stats().Segments)
}

// TestActionWriteFails: a failed action write changes nothing and leaves
// no temp file.
func TestActionWriteFails(t *testing.T) {
	for _, op := range []vfstest.Op{vfstest.OpCreate, vfstest.OpWrite, vfstest.OpSync, vfstest.OpRename} {
		t.Run(op.String(), func(t *testing.T) {
			s, e, m := openErr(t, Options{})
			a := action("guest", "a", "v1", 1)
			put(t, s, a)
			e.SetInjector(failOn(op, ".action", syscall.ENOSPC))
			_, err := s.UpdateAction("guest", "a", func(cur *whisk.Action) (*whisk.Action, error) {
				return action("guest", "a", "v2", 2), nil
			})
			require.ErrorIs(t, err, syscall.ENOSPC)
			require.ErrorContains(t, err, "guest/a")
			require.ErrorContains(t, err, "disk is full")
			e.SetInjector(nil)
			got, err := s.GetAction("guest", "a", true)
			require.NoError(t, err)
			requireJSON(t, a, got)
			_, err = m.ReadFile(s.actionPath("guest", "a") + tempExt)
			require.ErrorIs(t, err, fs.ErrNotExist)
		})
	}
}

// TestActionDirSyncFails: once the rename is done the new action is in
// place; a failed directory sync is reported but does not hide it.
func TestActionDirSyncFails(t *testing.T) {
	s, e, _ := openErr(t, Options{})
	put(t, s, action("guest", "a", "v1", 1))
	e.SetInjector(failOn(vfstest.OpSyncDir, filepath.Join(actionsDir, "guest"), syscall.EIO))
	_, err := s.UpdateAction("guest", "a", func(*whisk.Action) (*whisk.Action, error) {
		return action("guest", "a", "v2", 2), nil
	})
	require.ErrorIs(t, err, syscall.EIO)
	meta, err := s.GetAction("guest", "a", false)
	require.NoError(t, err)
	require.Equal(t, int64(2), meta.Updated)
	full, err := s.GetAction("guest", "a", true)
	require.NoError(t, err)
	require.Equal(t, "v2", *full.Exec.Code)
	_, err = s.DeleteAction("guest", "a")
	require.ErrorIs(t, err, syscall.EIO)
	_, err = s.GetAction("guest", "a", false)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestOpenErrors(t *testing.T) {
	// The directory is a file.
	p := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	_, err := Open(p, Options{})
	require.Error(t, err)
	require.ErrorContains(t, err, p)

	// Reading fails during recovery.
	m := vfstest.NewMemFS()
	s, err := open(m, memDir, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Append(activation(id(1), "guest", "a", 1, 1)))
	require.NoError(t, s.Close())
	e := vfstest.NewErrFS(m)
	e.SetInjector(failOn(vfstest.OpRead, "seg-", syscall.EIO))
	_, err = open(e, memDir, Options{})
	require.ErrorIs(t, err, syscall.EIO)
	require.NotErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "dmesg")
}

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		opts Options
		errs []string
	}{
		{Options{}, nil},
		{DefaultOptions(), nil},
		{Options{MaxActivations: -1}, []string{"MaxActivations"}},
		{Options{MaxBytes: -1}, []string{"MaxBytes"}},
		{Options{SegmentBytes: 100}, []string{"SegmentBytes 100 below"}},
		{Options{MaxRecordBytes: 10}, []string{"MaxRecordBytes 10 below"}},
		{Options{MaxRecordBytes: 2 << 30}, []string{"above the format limit"}},
		{Options{MaxActivations: -1, SegmentBytes: -1, MaxBytes: -5}, []string{"MaxActivations", "SegmentBytes", "MaxBytes"}},
	} {
		err := c.opts.Validate()
		if c.errs == nil {
			require.NoError(t, err, "%+v", c.opts)
			continue
		}
		require.ErrorIs(t, err, ErrInvalid)
		for _, want := range c.errs {
			require.ErrorContains(t, err, want)
		}
		_, err = open(vfstest.NewMemFS(), memDir, c.opts)
		require.ErrorIs(t, err, ErrInvalid)
	}
	d := DefaultOptions()
	d.MaxActivations = 1
	require.Equal(t, 100_000, DefaultOptions().MaxActivations, "DefaultOptions returns a fresh value")
}

// TestAdvice is the table from I/O errors to what to do.
func TestAdvice(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{syscall.ENOSPC, "disk is full"},
		{syscall.EDQUOT, "disk is full"},
		{syscall.EROFS, "read-only"},
		{syscall.EACCES, "permissions"},
		{syscall.EPERM, "permissions"},
		{syscall.EIO, "dmesg"},
		{errors.New("other"), ""},
	} {
		err := &os.PathError{Op: "write", Path: "/x/y", Err: c.err}
		require.Equal(t, c.want == "", advice(err) == "", c.err)
		require.Contains(t, advice(err), c.want)
		w := ioError("do it", err)
		require.ErrorIs(t, w, c.err)
		require.Contains(t, w.Error(), "/x/y")
	}
}

// TestLockedByOtherProcess: the lock is an flock, which a second open of
// the directory in the same process sees as well.
func TestLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, vfs.OS{}, dir, Options{})
	_, err := open(vfs.OS{}, dir, Options{})
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorContains(t, err, "another process")
	require.NoError(t, s.Close())
}
