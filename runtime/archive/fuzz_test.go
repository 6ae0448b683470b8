package archive_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/archive"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the committed fuzz seeds under testdata/fuzz/FuzzUnpack")

// fuzzLimits are small so that bombs trip them quickly.
var fuzzLimits = archive.Limits{MaxTotalBytes: 1 << 20, MaxFileBytes: 512 << 10, MaxFiles: 64}

const seedDir = "testdata/fuzz/FuzzUnpack"

// fuzzSeeds are the payloads of the table tests, shrunk to the fuzz limits.
// They are deterministic: TestFuzzSeedsCommitted checks the committed files.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	zeros4M := make([]byte, 4<<20)
	many := make([]zipEntry, 65)
	for i := range many {
		many[i] = zfile(fmt.Sprintf("f%02d", i), "", 0o644)
	}
	z := makeZip(tb, zfile("exec", "#!/bin/sh\n", 0o755), zfile("lib/a", "aaaa", 0o644))
	tgz := makeTarGz(tb, treg("exec", "x", 0o755))
	tgz[len(tgz)-8] ^= 0xff
	return map[string][]byte{
		"zip-normal": makeZip(tb,
			zfile("exec", "#!/bin/sh\necho hi\n", 0o644), zdir("lib/"), zfile("lib/util.txt", "util", 0o644),
			zfile("bin/tool", "tool", 0o755), zfile("data/a/b/c.txt", "deep", 0o600)),
		"zip-dot-exec":        makeZip(tb, zfile("./exec", "x", 0o644), zfile("./lib/./a", "a", 0o644)),
		"zip-no-unix-modes":   makeZip(tb, zipEntry{name: "exec", body: []byte("bin")}, zipEntry{name: "conf/app.json", body: []byte("{}")}),
		"zip-empty":           makeZip(tb),
		"targz-normal":        makeTarGz(tb, tdir("./"), treg("./exec", "#!/bin/sh\n", 0o755), tdir("./lib/"), treg("./lib/x.txt", "x", 0o644), treg("nested/deep/f", "f", 0o600)),
		"targz-global-header": makeTarGz(tb, tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "c"}}}, treg("exec", "e", 0o600)),
		"single-elf":          elfPayload,
		"single-script":       []byte("#!/usr/bin/env python3\nprint('hi')\n"),
		"single-go":           []byte("package main\n\nfunc Main(m map[string]any) map[string]any { return m }\n"),
		"zip-slip-dotdot":     makeZip(tb, zfile("ok", "ok", 0o644), zfile("../x", "x", 0o644)),
		"zip-slip-inner":      makeZip(tb, zfile("a/../../x", "x", 0o644)),
		"zip-slip-abs":        makeZip(tb, zfile("/etc/passwd", "x", 0o644)),
		"zip-slip-backslash":  makeZip(tb, zfile(`a\..\x`, "x", 0o644)),
		"targz-slip":          makeTarGz(tb, tdir("./"), treg("./../x", "x", 0o644)),
		"zip-symlink":         makeZip(tb, zfile("exec", "x", 0o755), zipEntry{name: "link", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777}),
		"zip-device":          makeZip(tb, zipEntry{name: "sda", mode: fs.ModeDevice | 0o600}),
		"targz-symlink":       makeTarGz(tb, treg("exec", "x", 0o755), tspecial("lib", tar.TypeSymlink, "/usr/lib")),
		"targz-hardlink":      makeTarGz(tb, treg("exec", "x", 0o755), tspecial("hard", tar.TypeLink, "exec")),
		"targz-device":        makeTarGz(tb, tspecial("tty", tar.TypeChar, "")),
		"zip-duplicate":       makeZip(tb, zfile("a", "1", 0o644), zfile("./a", "2", 0o644)),
		"zip-file-as-dir":     makeZip(tb, zfile("a", "1", 0o644), zfile("a/b", "2", 0o644)),
		"targz-duplicate":     makeTarGz(tb, treg("exec", "1", 0o755), treg("./exec", "2", 0o755)),
		"zip-too-many":        makeZip(tb, many...),
		"zip-size-lie-small":  makeZip(tb, zdeflated(tb, "liar", make([]byte, 64<<10), 10)),
		"zip-size-lie-big":    makeZip(tb, zdeflated(tb, "liar", []byte("short"), 100)),
		"zip-bomb":            makeZip(tb, zfile("exec", "x", 0o755), zipEntry{name: "bomb", body: zeros4M, mode: 0o644}),
		"zip-bomb-overlap":    overlapZip(tb, 4, 400<<10),
		"targz-bomb":          makeTarGz(tb, treg("exec", "x", 0o755), tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "bomb", Mode: 0o644}, body: zeros4M}),
		"gzip-trailing-zeros": gzipBytes(tb, append(makeTarGzRaw(tb, treg("exec", "x", 0o755)), zeros4M...)),
		"zip-truncated":       z[:len(z)/2],
		"zip-bad-crc":         makeZip(tb, zfile("ok", "fine", 0o644), zstored("bad.txt", []byte("hello"), 5, crc32.ChecksumIEEE([]byte("hellp")))),
		"targz-bad-crc":       tgz,
		"gzip-not-tar":        gzipBytes(tb, bytes.Repeat([]byte("not a tar "), 100)),
	}
}

// seedFile is a payload in the "go test fuzz v1" corpus format.
func seedFile(payload []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", payload)
}

// TestFuzzSeedsCommitted checks that testdata/fuzz/FuzzUnpack holds every
// seed of fuzzSeeds, byte for byte; run with -rewrite to regenerate them.
func TestFuzzSeedsCommitted(t *testing.T) {
	seeds := fuzzSeeds(t)
	if *rewrite {
		require.NoError(t, os.MkdirAll(seedDir, 0o755))
		old, err := filepath.Glob(filepath.Join(seedDir, "seed-*"))
		require.NoError(t, err)
		for _, p := range old {
			require.NoError(t, os.Remove(p))
		}
		for name, payload := range seeds {
			require.NoError(t, os.WriteFile(filepath.Join(seedDir, "seed-"+name), seedFile(payload), 0o644))
		}
	}
	committed, err := filepath.Glob(filepath.Join(seedDir, "seed-*"))
	require.NoError(t, err)
	var names []string
	for _, p := range committed {
		names = append(names, strings.TrimPrefix(filepath.Base(p), "seed-"))
	}
	var want []string
	for name := range seeds {
		want = append(want, name)
	}
	sort.Strings(want)
	require.Equal(t, want, names, "committed seeds differ from fuzzSeeds; run go test -run TestFuzzSeedsCommitted -rewrite")
	for name, payload := range seeds {
		b, err := os.ReadFile(filepath.Join(seedDir, "seed-"+name))
		require.NoError(t, err)
		require.Equal(t, string(seedFile(payload)), string(b), "seed %s is stale; rerun with -rewrite", name)
	}
}

var sentinels = []error{
	archive.ErrInvalid, archive.ErrUnsafePath, archive.ErrLinkEntry, archive.ErrUnsupportedEntry,
	archive.ErrDuplicateEntry, archive.ErrTooLarge, archive.ErrTooManyFiles, archive.ErrCorrupt,
}

// FuzzUnpack unpacks arbitrary payloads under small limits. It must never
// panic or touch anything outside the target directory; a failure must wrap
// a sentinel and leave the directory empty; a success must leave only
// regular files and directories, with the modes the rules give, within the
// limits.
func FuzzUnpack(f *testing.F) {
	seeds := fuzzSeeds(f)
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f.Add(seeds[name])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		require.NoError(t, os.Mkdir(dir, 0o755))

		kind, err := archive.Unpack(payload, dir, fuzzLimits)

		require.Equal(t, []string{"out"}, dirNames(t, parent), "Unpack wrote outside its directory")
		fi, lerr := os.Lstat(dir)
		require.NoError(t, lerr)
		require.True(t, fi.IsDir(), "the target is no longer a directory")

		if err != nil {
			require.Zero(t, kind)
			require.True(t, strings.HasPrefix(err.Error(), "archive: "), "message %q lacks the package prefix", err)
			wraps := false
			for _, s := range sentinels {
				wraps = wraps || errors.Is(err, s)
			}
			require.True(t, wraps, "error %q wraps no sentinel", err)
			requireEmptyDir(t, dir)
			return
		}

		require.Equal(t, archive.Detect(payload), kind)
		var total int64
		objects := 0
		werr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == dir {
				return err
			}
			objects++
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			switch {
			case fi.Mode().IsDir():
				require.Equal(t, fs.FileMode(0o755), fi.Mode().Perm(), "directory %s", rel)
			case fi.Mode().IsRegular():
				total += fi.Size()
				require.Contains(t, []fs.FileMode{0o644, 0o755}, fi.Mode().Perm(), "file %s", rel)
				if rel == "exec" {
					require.Equal(t, fs.FileMode(0o755), fi.Mode().Perm(), "exec must be executable")
				}
			default:
				t.Fatalf("%s is a %v, not a regular file or directory", rel, fi.Mode().Type())
			}
			return nil
		})
		require.NoError(t, werr)
		require.LessOrEqual(t, total, fuzzLimits.MaxTotalBytes)
		require.LessOrEqual(t, objects, fuzzLimits.MaxFiles)

		if kind == archive.KindExecutable || kind == archive.KindSource {
			b, rerr := os.ReadFile(filepath.Join(dir, "exec"))
			require.NoError(t, rerr)
			require.Equal(t, payload, b)
			require.Equal(t, 1, objects)
		}
	})
}
