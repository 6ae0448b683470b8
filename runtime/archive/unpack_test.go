package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/archive"
)

var elfPayload = []byte("\x7fELF\x02\x01\x01\x00binary")

func TestUnpackOK(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		lim     archive.Limits
		kind    archive.Kind
		want    map[string]string
	}{{
		name: "zip with exec at root and subdirectories",
		payload: makeZip(t,
			zfile("exec", "#!/bin/sh\necho hi\n", 0o644), // exec at root: 0755 anyway
			zdir("lib/"),
			zfile("lib/util.txt", "util", 0o644),
			zfile("bin/tool", "tool", 0o755),
			zfile("data/a/b/c.txt", "deep", 0o600),
		),
		kind: archive.KindZip,
		want: map[string]string{
			"exec":           "file 755 #!/bin/sh\necho hi\n",
			"lib":            "dir 755",
			"lib/util.txt":   "file 644 util",
			"bin":            "dir 755",
			"bin/tool":       "file 755 tool",
			"data":           "dir 755",
			"data/a":         "dir 755",
			"data/a/b":       "dir 755",
			"data/a/b/c.txt": "file 644 deep",
		},
	}, {
		name: "zip exec bits",
		payload: makeZip(t,
			zfile("run.sh", "r", 0o700),
			zfile("grp", "g", 0o610),
			zfile("plain", "p", 0o600),
			zfile("ro", "o", 0o444),
			zfile("sub/exec", "not top level", 0o644),
		),
		kind: archive.KindZip,
		want: map[string]string{
			"run.sh":   "file 755 r",
			"grp":      "file 755 g",
			"plain":    "file 644 p",
			"ro":       "file 644 o",
			"sub":      "dir 755",
			"sub/exec": "file 644 not top level",
		},
	}, {
		name:    "zip ./exec",
		payload: makeZip(t, zfile("./exec", "x", 0o644), zfile("./lib/./a", "a", 0o644)),
		kind:    archive.KindZip,
		want:    map[string]string{"exec": "file 755 x", "lib": "dir 755", "lib/a": "file 644 a"},
	}, {
		name: "zip without unix modes (windows, java)",
		payload: makeZip(t,
			zipEntry{name: "exec", body: []byte("bin")},
			zipEntry{name: "conf/app.json", body: []byte("{}")},
		),
		kind: archive.KindZip,
		want: map[string]string{"exec": "file 755 bin", "conf": "dir 755", "conf/app.json": "file 644 {}"},
	}, {
		name:    "zip directory listed after its file",
		payload: makeZip(t, zfile("a/b", "b", 0o644), zdir("a/")),
		kind:    archive.KindZip,
		want:    map[string]string{"a": "dir 755", "a/b": "file 644 b"},
	}, {
		name:    "empty zip",
		payload: makeZip(t),
		kind:    archive.KindZip,
		want:    map[string]string{},
	}, {
		name: "tar.gz made with tar -C dir .",
		payload: makeTarGz(t,
			tdir("./"),
			treg("./exec", "#!/bin/sh\n", 0o755),
			tdir("./lib/"),
			treg("./lib/x.txt", "x", 0o644),
			treg("./lib/run", "r", 0o744),
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "made by test"}}},
			treg("nested/deep/f", "f", 0o600),
			tarEntry{hdr: tar.Header{Typeflag: '\x00', Name: "old-style", Size: 3}, body: []byte("old")},
		),
		kind: archive.KindTarGz,
		want: map[string]string{
			"exec":          "file 755 #!/bin/sh\n",
			"lib":           "dir 755",
			"lib/x.txt":     "file 644 x",
			"lib/run":       "file 755 r",
			"nested":        "dir 755",
			"nested/deep":   "dir 755",
			"nested/deep/f": "file 644 f",
			"old-style":     "file 644 old",
		},
	}, {
		name:    "tar.gz exec without x bit",
		payload: makeTarGz(t, treg("exec", "e", 0o600)),
		kind:    archive.KindTarGz,
		want:    map[string]string{"exec": "file 755 e"},
	}, {
		name:    "empty tar.gz",
		payload: makeTarGz(t),
		kind:    archive.KindTarGz,
		want:    map[string]string{},
	}, {
		name:    "single ELF",
		payload: elfPayload,
		kind:    archive.KindExecutable,
		want:    map[string]string{"exec": "file 755 " + string(elfPayload)},
	}, {
		name:    "single script",
		payload: []byte("#!/usr/bin/env python3\nprint('hi')\n"),
		kind:    archive.KindExecutable,
		want:    map[string]string{"exec": "file 755 #!/usr/bin/env python3\nprint('hi')\n"},
	}, {
		name:    "single Go source",
		payload: []byte("package main\n\nfunc Main(m map[string]any) map[string]any { return m }\n"),
		kind:    archive.KindSource,
		want:    map[string]string{"exec": "file 755 package main\n\nfunc Main(m map[string]any) map[string]any { return m }\n"},
	}, {
		name:    "one byte",
		payload: []byte("P"),
		kind:    archive.KindSource,
		want:    map[string]string{"exec": "file 755 P"},
	}, {
		name:    "exactly at the limits",
		payload: makeZip(t, zfile("a", "12345", 0o644), zfile("b", "12345", 0o644)),
		lim:     archive.Limits{MaxFiles: 2, MaxFileBytes: 5, MaxTotalBytes: 10, MaxNameBytes: 1, MaxDepth: 1},
		kind:    archive.KindZip,
		want:    map[string]string{"a": "file 644 12345", "b": "file 644 12345"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			kind, err := archive.Unpack(tc.payload, dir, tc.lim)
			require.NoError(t, err)
			require.Equal(t, tc.kind, kind)
			require.Equal(t, tc.kind, archive.Detect(tc.payload))
			require.Equal(t, tc.want, listTree(t, dir))
		})
	}
}

func TestUnpackRefused(t *testing.T) {
	zeros64M := make([]byte, 64<<20)
	small := archive.Limits{MaxFileBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxFiles: 64}
	corruptCRC := makeZip(t, zfile("ok", "fine", 0o644), zstored("bad.txt", []byte("hello"), 5, crc32.ChecksumIEEE([]byte("hellp"))))
	tarGzTrailer := makeTarGz(t, treg("exec", "x", 0o755))
	tarGzTrailer[len(tarGzTrailer)-8] ^= 0xff // gzip CRC-32
	blobTarGz := makeTarGz(t, treg("exec", "x", 0o755), tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "blob", Mode: 0o644}, body: randomBytes(256<<10, 1)})

	for _, tc := range []struct {
		name    string
		payload []byte
		lim     archive.Limits
		err     error
		msg     []string // substrings the message must hold
	}{
		{name: "empty payload", payload: nil, err: archive.ErrInvalid, msg: []string{"empty payload"}},

		// Zip-slip and other unsafe names.
		{name: "zip ../x", payload: makeZip(t, zfile("ok", "ok", 0o644), zfile("../x", "x", 0o644)), err: archive.ErrUnsafePath,
			msg: []string{`entry "../x" escapes the action directory (zip-slip)`, "relative paths"}},
		{name: "zip a/../../x", payload: makeZip(t, zfile("a/../../x", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"a/../../x"`, "zip-slip"}},
		{name: "zip a/../b stays inside but has ..", payload: makeZip(t, zfile("a/../b", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"a/../b"`}},
		{name: "zip /abs", payload: makeZip(t, zfile("/etc/passwd", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"/etc/passwd"`, "absolute"}},
		{name: `zip a\..\x`, payload: makeZip(t, zfile(`a\..\x`, "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"a\\..\\x"`, "backslash"}},
		{name: "zip NUL", payload: makeZip(t, zfile("a\x00b", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"a\x00b"`, "NUL"}},
		{name: "zip empty name", payload: makeZip(t, zfile("", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`entry ""`, "empty name"}},
		{name: "zip file named .", payload: makeZip(t, zfile(".", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`entry "."`}},
		{name: "zip name too long", payload: makeZip(t, zfile(strings.Repeat("n", 33), "x", 0o644)), lim: archive.Limits{MaxNameBytes: 32},
			err: archive.ErrUnsafePath, msg: []string{"33-byte name", "limit of 32 bytes (MaxNameBytes)"}},
		{name: "zip component too long", payload: makeZip(t, zfile(strings.Repeat("c", 256), "x", 0o644)),
			err: archive.ErrUnsafePath, msg: []string{"256-byte path component"}},
		{name: "zip too deep", payload: makeZip(t, zfile("a/b/c/d", "x", 0o644)), lim: archive.Limits{MaxDepth: 3},
			err: archive.ErrUnsafePath, msg: []string{`"a/b/c/d"`, "4 directories deep", "limit of 3 (MaxDepth)"}},
		{name: "zip-slip in a directory entry", payload: makeZip(t, zdir("../d/")), err: archive.ErrUnsafePath, msg: []string{`"../d/"`}},
		{name: "tar ../x", payload: makeTarGz(t, treg("../x", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"../x"`, "zip-slip"}},
		{name: "tar /abs", payload: makeTarGz(t, treg("/tmp/x", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"/tmp/x"`}},
		{name: `tar a\..\x`, payload: makeTarGz(t, treg(`a\..\x`, "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"a\\..\\x"`}},
		{name: "tar ./../x", payload: makeTarGz(t, tdir("./"), treg("./../x", "x", 0o644)), err: archive.ErrUnsafePath, msg: []string{`"./../x"`}},

		// Links and special files.
		{name: "zip symlink", payload: makeZip(t, zfile("exec", "x", 0o755), zipEntry{name: "link", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}),
			err: archive.ErrLinkEntry, msg: []string{`entry "link" is a symbolic link`}},
		{name: "zip block device", payload: makeZip(t, zipEntry{name: "sda", mode: fs.ModeDevice | 0o600}),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "sda" is a block device`}},
		{name: "zip char device", payload: makeZip(t, zipEntry{name: "null", mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "null" is a character device`}},
		{name: "zip fifo", payload: makeZip(t, zipEntry{name: "pipe", mode: fs.ModeNamedPipe | 0o644}),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "pipe" is a named pipe`}},
		{name: "tar symlink", payload: makeTarGz(t, treg("exec", "x", 0o755), tspecial("lib", tar.TypeSymlink, "/usr/lib")),
			err: archive.ErrLinkEntry, msg: []string{`entry "lib" is a symbolic link to "/usr/lib"`}},
		{name: "tar hard link", payload: makeTarGz(t, treg("exec", "x", 0o755), tspecial("hard", tar.TypeLink, "exec")),
			err: archive.ErrLinkEntry, msg: []string{`entry "hard" is a hard link to "exec"`}},
		{name: "tar char device", payload: makeTarGz(t, tspecial("tty", tar.TypeChar, "")),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "tty" is a character device`}},
		{name: "tar block device", payload: makeTarGz(t, tspecial("sda", tar.TypeBlock, "")),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "sda" is a block device`}},
		{name: "tar fifo", payload: makeTarGz(t, tspecial("fifo", tar.TypeFifo, "")),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "fifo" is a named pipe`}},
		{name: "tar unknown type", payload: makeTarGz(t, tspecial("vol", 'V', "")),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "vol"`, `type 'V'`}},
		{name: "zip unknown compression method", payload: makeZip(t, zipEntry{name: "m", body: []byte("x"), raw: &zip.FileHeader{Name: "m", Method: 99, CompressedSize64: 1, UncompressedSize64: 1}}),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "m" uses compression method 99`}},
		{name: "zip encrypted", payload: makeZip(t, zipEntry{name: "secret", body: []byte("x"), raw: &zip.FileHeader{Name: "secret", Method: zip.Store, Flags: 0x1, CompressedSize64: 1, UncompressedSize64: 1}}),
			err: archive.ErrUnsupportedEntry, msg: []string{`entry "secret" is encrypted`}},

		// Duplicates.
		{name: "zip same file twice", payload: makeZip(t, zfile("a", "1", 0o644), zfile("a", "2", 0o644)), err: archive.ErrDuplicateEntry, msg: []string{`entry "a" is a second entry`}},
		{name: "zip a and ./a", payload: makeZip(t, zfile("a", "1", 0o644), zfile("./a", "2", 0o644)), err: archive.ErrDuplicateEntry, msg: []string{`entry "./a"`}},
		{name: "zip a//b and a/b", payload: makeZip(t, zfile("a//b", "1", 0o644), zfile("a/b", "2", 0o644)), err: archive.ErrDuplicateEntry, msg: []string{`entry "a/b"`}},
		{name: "zip file then dir", payload: makeZip(t, zfile("a", "1", 0o644), zdir("a/")), err: archive.ErrDuplicateEntry, msg: []string{`entry "a/"`}},
		{name: "zip dir then file", payload: makeZip(t, zdir("a/"), zfile("a", "1", 0o644)), err: archive.ErrDuplicateEntry, msg: []string{`entry "a"`}},
		{name: "zip dir twice", payload: makeZip(t, zdir("d/"), zdir("d/")), err: archive.ErrDuplicateEntry, msg: []string{`entry "d/"`}},
		{name: "zip file where a directory is needed", payload: makeZip(t, zfile("a", "1", 0o644), zfile("a/b", "2", 0o644)),
			err: archive.ErrDuplicateEntry, msg: []string{`entry "a/b" needs "a" to be a directory`}},
		{name: "tar same file twice", payload: makeTarGz(t, treg("exec", "1", 0o755), treg("./exec", "2", 0o755)),
			err: archive.ErrDuplicateEntry, msg: []string{`entry "./exec"`}},

		// Counts and sizes.
		{name: "zip too many entries", payload: makeZip(t, zfile("a", "", 0), zfile("b", "", 0), zfile("c", "", 0), zfile("d", "", 0)),
			lim: archive.Limits{MaxFiles: 3}, err: archive.ErrTooManyFiles, msg: []string{`entry "d"`, "limit of 3 entries (MaxFiles)"}},
		{name: "zip too many implied directories", payload: makeZip(t, zfile("a/b/c/d", "", 0)),
			lim: archive.Limits{MaxFiles: 3}, err: archive.ErrTooManyFiles, msg: []string{`entry "a/b/c/d"`, "more than 3 files and directories"}},
		{name: "tar too many entries", payload: makeTarGz(t, treg("a", "", 0), treg("b", "", 0), treg("c", "", 0)),
			lim: archive.Limits{MaxFiles: 2}, err: archive.ErrTooManyFiles, msg: []string{`entry "c"`}},
		{name: "tar too many global headers", payload: makeTarGz(t,
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "1"}}},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "2"}}},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "3"}}}),
			lim: archive.Limits{MaxFiles: 2}, err: archive.ErrTooManyFiles, msg: []string{"limit of 2 entries"}},
		{name: "single file too large", payload: bytes.Repeat([]byte("x"), 11), lim: archive.Limits{MaxFileBytes: 10},
			err: archive.ErrTooLarge, msg: []string{`entry "exec"`, "limit of 10 bytes for one file (MaxFileBytes)"}},
		{name: "zip header claims less than the data", payload: makeZip(t, zdeflated(t, "liar", make([]byte, 1<<20), 10)),
			lim: archive.Limits{MaxFileBytes: 64 << 10}, err: archive.ErrCorrupt, msg: []string{`entry "liar" is corrupt`}},
		{name: "zip header claims more than the data", payload: makeZip(t, zdeflated(t, "liar", []byte("short"), 100)),
			err: archive.ErrCorrupt, msg: []string{`entry "liar" is corrupt`}},
		{name: "zip header claims more than the limit", payload: makeZip(t, zdeflated(t, "liar", []byte("short"), 1<<40)),
			err: archive.ErrTooLarge, msg: []string{`entry "liar" declares 1099511627776 bytes`}},
		{name: "zip bomb: 64 MiB of zeros", payload: makeZip(t, zfile("exec", "x", 0o755), zipEntry{name: "bomb", body: zeros64M, mode: 0o644}),
			lim: small, err: archive.ErrTooLarge, msg: []string{`entry "bomb"`, "limit of 1048576 bytes"}},
		{name: "zip bomb: overlapping entries", payload: overlapZip(t, 10, 1<<20),
			lim: small, err: archive.ErrTooLarge, msg: []string{`entry "e" takes the archive past the limit of 4194304 uncompressed bytes (MaxTotalBytes)`}},
		{name: "gzip bomb: 64 MiB tar entry", payload: makeTarGz(t, treg("exec", "x", 0o755), tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "bomb", Mode: 0o644}, body: zeros64M}),
			lim: small, err: archive.ErrTooLarge, msg: []string{`entry "bomb"`, "limit of 1048576 bytes"}},
		{name: "gzip bomb: total over several entries", payload: makeTarGz(t,
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "z1"}, body: zeros64M[:1<<20]},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "z2"}, body: zeros64M[:1<<20]},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "z3"}, body: zeros64M[:1<<20]},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "z4"}, body: zeros64M[:1<<20]},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "z5"}, body: zeros64M[:1<<20]}),
			lim: small, err: archive.ErrTooLarge, msg: []string{`entry "z5"`, "MaxTotalBytes"}},
		{name: "gzip bomb: zeros after the tar", payload: gzipBytes(t, append(bytes.Clone(makeTarGzRaw(t, treg("exec", "x", 0o755))), zeros64M[:16<<20]...)),
			lim: small, err: archive.ErrTooLarge, msg: []string{"end of the gzip stream"}},

		// Damage.
		{name: "truncated zip", payload: func() []byte {
			z := makeZip(t, zfile("exec", "x", 0o755), zfile("lib/a", "aaaa", 0o644))
			return z[:len(z)/2]
		}(),
			err: archive.ErrCorrupt, msg: []string{"zip directory"}},
		{name: "zip CRC mismatch", payload: corruptCRC, err: archive.ErrCorrupt, msg: []string{`entry "bad.txt" is corrupt`, "checksum"}},
		{name: "bad gzip header", payload: []byte{0x1f, 0x8b, 0xff, 0xff}, err: archive.ErrCorrupt, msg: []string{"gzip header"}},
		{name: "gzip of something that is not a tar", payload: gzipBytes(t, bytes.Repeat([]byte("not a tar "), 100)),
			err: archive.ErrCorrupt, msg: []string{"first tar header"}},
		{name: "truncated tar.gz", payload: blobTarGz[:len(blobTarGz)/2], err: archive.ErrCorrupt, msg: []string{`entry "blob" is corrupt`}},
		{name: "tar.gz with a bad gzip checksum", payload: tarGzTrailer, err: archive.ErrCorrupt, msg: []string{"end of the gzip stream", "checksum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			kind, err := archive.Unpack(tc.payload, dir, tc.lim)
			require.Error(t, err)
			require.ErrorIs(t, err, tc.err)
			for _, m := range tc.msg {
				require.Contains(t, err.Error(), m)
			}
			require.True(t, strings.HasPrefix(err.Error(), "archive: "), "message %q lacks the package prefix", err)
			require.Zero(t, kind)
			requireEmptyDir(t, dir)
		})
	}
}

// makeTarGzRaw is the uncompressed tar of makeTarGz.
func makeTarGzRaw(tb testing.TB, entries ...tarEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.body))
		}
		require.NoError(tb, tw.WriteHeader(&h))
		_, err := tw.Write(e.body)
		require.NoError(tb, err)
	}
	require.NoError(tb, tw.Close())
	return buf.Bytes()
}

func TestUnpackTarget(t *testing.T) {
	payload := makeZip(t, zfile("exec", "x", 0o755))

	t.Run("not empty", func(t *testing.T) {
		dir := t.TempDir()
		keep := filepath.Join(dir, "keep")
		require.NoError(t, os.WriteFile(keep, []byte("mine"), 0o600))
		_, err := archive.Unpack(payload, dir, archive.Limits{})
		require.ErrorIs(t, err, archive.ErrInvalid)
		require.Contains(t, err.Error(), "not empty")
		b, err := os.ReadFile(keep)
		require.NoError(t, err, "Unpack removed what it did not write")
		require.Equal(t, "mine", string(b))
		require.Equal(t, []string{"keep"}, dirNames(t, dir))
	})
	t.Run("missing", func(t *testing.T) {
		_, err := archive.Unpack(payload, filepath.Join(t.TempDir(), "nope"), archive.Limits{})
		require.ErrorIs(t, err, archive.ErrInvalid)
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(f, nil, 0o600))
		_, err := archive.Unpack(payload, f, archive.Limits{})
		require.ErrorIs(t, err, archive.ErrInvalid)
	})
	t.Run("bad limits", func(t *testing.T) {
		dir := t.TempDir()
		_, err := archive.Unpack(payload, dir, archive.Limits{MaxFiles: -1})
		require.ErrorIs(t, err, archive.ErrInvalid)
		requireEmptyDir(t, dir)
	})
}

func TestUnpackDirReusableAfterFailure(t *testing.T) {
	dir := t.TempDir()
	_, err := archive.Unpack(makeZip(t, zfile("exec", "x", 0o755), zfile("lib/a", "a", 0o644), zfile("../x", "x", 0o644)), dir, archive.Limits{})
	require.ErrorIs(t, err, archive.ErrUnsafePath)
	requireEmptyDir(t, dir)
	kind, err := archive.Unpack(makeZip(t, zfile("exec", "x", 0o755)), dir, archive.Limits{})
	require.NoError(t, err)
	require.Equal(t, archive.KindZip, kind)
	require.Equal(t, map[string]string{"exec": "file 755 x"}, listTree(t, dir))
}
