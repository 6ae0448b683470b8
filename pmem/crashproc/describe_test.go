package crashproc

import (
	"bytes"
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// TestKeepTornRegion builds the region of the CI failure — a tail word whose
// low byte was committed and whose other bytes were not — and checks that a
// failed iteration keeps a copy of it and explains its state.
func TestKeepTornRegion(t *testing.T) {
	dir := t.TempDir()
	s, err := pmem.Create(dir, "victim", pmem.Options{InitialSize: 256 << 10})
	require.NoError(t, err)
	// As in CI, the tail moves from ...1e20 to ...25e8, and the torn word
	// ...1ee8 lies 200 bytes into the record being appended.
	require.NoError(t, s.Put("key-20", bytes.Repeat([]byte{1}, 0x1e20-layout.DataStart-layout.RecordHeaderSize-6)))
	before := s.Stats()
	require.EqualValues(t, 0x1e20, before.Tail)
	require.NoError(t, s.Put("key-41", bytes.Repeat([]byte{2}, 1954))) // a 1992-byte record
	require.NoError(t, s.Close())

	path, err := pmem.RegionPath(dir, "victim")
	require.NoError(t, err)
	img, err := os.ReadFile(path)
	require.NoError(t, err)
	tailOff := layout.RootOffset(layout.SlotOf(before.Gen)) + layout.RootTailOff
	var old [8]byte
	binary.LittleEndian.PutUint64(old[:], uint64(before.Tail))
	copy(img[tailOff+1:tailOff+8], old[1:]) // the kill came after the first byte store
	require.NoError(t, os.WriteFile(path, img, 0o644))
	_, err = pmem.Open(dir, "victim", pmem.Options{})
	require.ErrorIs(t, err, pmem.ErrCorrupt)
	torn := binary.LittleEndian.Uint64(img[tailOff:])

	keepDir := t.TempDir()
	msg := keepRegion(Config{Dir: dir, Name: "victim", Seed: 7, KeepDir: keepDir}, 3)
	t.Log(msg)
	require.Contains(t, msg, "(active)")
	require.EqualValues(t, 0x1ee8, torn)
	require.Contains(t, msg, "key-41")
	require.Regexp(t, regexp.MustCompile(`the tail \d+ falls \d+ bytes into the record at \d+ \(1992 bytes`), msg)
	require.Contains(t, msg, "falls "+itoa(int64(torn)-before.Tail)+" bytes into the record at "+itoa(before.Tail))
	m := regexp.MustCompile(`kept at (\S+)`).FindStringSubmatch(msg)
	require.NotNil(t, m, msg)
	kept, err := os.ReadFile(m[1])
	require.NoError(t, err)
	require.Equal(t, img, kept)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
