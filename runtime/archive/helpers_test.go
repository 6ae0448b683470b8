package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// zipEntry describes one entry for makeZip.
type zipEntry struct {
	name string
	body []byte
	// mode, if non-zero, is set with FileHeader.SetMode (a Unix-made zip);
	// zero leaves the FAT creator and no Unix mode (Windows, Java).
	mode fs.FileMode
	// raw, if non-nil, is written with CreateRaw: body is then the
	// compressed data and raw carries the (possibly lying) sizes and CRC.
	raw *zip.FileHeader
}

func makeZip(tb testing.TB, entries ...zipEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// BestSpeed keeps building the 64 MiB bombs quick under -race; the ratio
	// on zeros is still about 800:1.
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, e := range entries {
		if e.raw != nil {
			w, err := zw.CreateRaw(e.raw)
			require.NoError(tb, err)
			_, err = w.Write(e.body)
			require.NoError(tb, err)
			continue
		}
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(fh)
		require.NoError(tb, err)
		_, err = w.Write(e.body)
		require.NoError(tb, err)
	}
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

// zfile is a Unix-made zip file entry.
func zfile(name, body string, mode fs.FileMode) zipEntry {
	return zipEntry{name: name, body: []byte(body), mode: mode}
}

// zdir is a Unix-made zip directory entry; name should end in "/".
func zdir(name string) zipEntry {
	return zipEntry{name: name, mode: fs.ModeDir | 0o755}
}

// zstored is an uncompressed entry whose header states size and crc as given.
func zstored(name string, body []byte, size uint64, crc uint32) zipEntry {
	return zipEntry{name: name, body: body, raw: &zip.FileHeader{
		Name: name, Method: zip.Store, CRC32: crc,
		CompressedSize64: uint64(len(body)), UncompressedSize64: size,
	}}
}

// zdeflated is a deflated entry whose header states size as given (the CRC
// is that of body, so only the size lies when size != len(body)).
func zdeflated(tb testing.TB, name string, body []byte, size uint64) zipEntry {
	tb.Helper()
	// Compress body alone by writing a one-entry zip and taking its data.
	one := makeZip(tb, zipEntry{name: name, body: body})
	zr, err := zip.NewReader(bytes.NewReader(one), int64(len(one)))
	require.NoError(tb, err)
	f := zr.File[0]
	rc, err := f.OpenRaw()
	require.NoError(tb, err)
	comp := make([]byte, f.CompressedSize64)
	_, err = io.ReadFull(rc, comp)
	require.NoError(tb, err)
	return zipEntry{name: name, body: comp, raw: &zip.FileHeader{
		Name: name, Method: zip.Deflate, CRC32: f.CRC32,
		CompressedSize64: f.CompressedSize64, UncompressedSize64: size,
	}}
}

// overlapZip is a zip bomb of n central-directory entries named "a", "b", ...
// that all point at the same local entry: size zero bytes, deflated.
func overlapZip(tb testing.TB, n, size int) []byte {
	tb.Helper()
	base := makeZip(tb, zipEntry{name: "a", body: make([]byte, size)})
	eocd := base[len(base)-22:]
	require.Equal(tb, "PK\x05\x06", string(eocd[:4]))
	cdSize := binary.LittleEndian.Uint32(eocd[12:])
	cdOff := binary.LittleEndian.Uint32(eocd[16:])
	rec := base[cdOff : cdOff+cdSize]
	require.Equal(tb, "PK\x01\x02", string(rec[:4]))
	require.Equal(tb, byte('a'), rec[46])

	out := append([]byte(nil), base[:cdOff]...)
	for i := range n {
		r := append([]byte(nil), rec...)
		r[46] = byte('a' + i)
		out = append(out, r...)
	}
	end := append([]byte(nil), eocd...)
	binary.LittleEndian.PutUint16(end[8:], uint16(n))
	binary.LittleEndian.PutUint16(end[10:], uint16(n))
	binary.LittleEndian.PutUint32(end[12:], uint32(n)*cdSize)
	return append(out, end...)
}

// tarEntry is one entry for makeTarGz; for TypeReg a zero Size is set from
// the body.
type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func makeTarGz(tb testing.TB, entries ...tarEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	require.NoError(tb, err)
	tw := tar.NewWriter(gw)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.body))
		}
		require.NoError(tb, tw.WriteHeader(&h))
		if len(e.body) > 0 {
			_, err := tw.Write(e.body)
			require.NoError(tb, err)
		}
	}
	require.NoError(tb, tw.Close())
	require.NoError(tb, gw.Close())
	return buf.Bytes()
}

func treg(name, body string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, body: []byte(body)}
}

func tdir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func tspecial(name string, typ byte, link string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: link, Mode: 0o644}}
}

// gzipBytes compresses b as a bare gzip stream (no tar inside).
func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	require.NoError(tb, err)
	_, err = gw.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, gw.Close())
	return buf.Bytes()
}

// randomBytes is n incompressible bytes from a fixed seed.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// listTree describes everything under dir: "dir 755" for a directory,
// "file 644 <content>" for a regular file, "other <mode>" for anything else.
func listTree(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode().IsDir():
			got[filepath.ToSlash(rel)] = fmt.Sprintf("dir %o", fi.Mode().Perm())
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)] = fmt.Sprintf("file %o %s", fi.Mode().Perm(), b)
		default:
			got[filepath.ToSlash(rel)] = fmt.Sprintf("other %v", fi.Mode())
		}
		return nil
	})
	require.NoError(tb, err)
	return got
}

// requireEmptyDir fails unless dir exists, is a directory and is empty.
func requireEmptyDir(tb testing.TB, dir string) {
	tb.Helper()
	fi, err := os.Lstat(dir)
	require.NoError(tb, err)
	require.True(tb, fi.IsDir(), "%s is no longer a directory", dir)
	names := dirNames(tb, dir)
	require.Empty(tb, names, "%s is not empty after a failed Unpack", dir)
}

func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(tb, err)
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}
