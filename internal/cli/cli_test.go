package cli_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/marvel-serverless/marvel/internal/cli"
	"github.com/marvel-serverless/marvel/pmem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// result is what one in-process run of marvel produced.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) code() int { return cli.ExitCode(r.err) }

// runEnv runs marvel with args against env (its Stdout and Stderr are
// replaced by buffers).
func runEnv(t *testing.T, env cli.Env, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env.Stdout, env.Stderr = &stdout, &stderr
	root := cli.NewRootCommand(env)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return result{stdout.String(), stderr.String(), err}
}

// run runs marvel with args and an empty environment.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runEnv(t, cli.Env{}, args...)
}

// region is what a test namespace's region was created with.
type region struct {
	name   string
	owner  string
	pinned bool
	puts   map[string]string
	dels   []string

	// Filled in by makeRegion.
	path string
	info pmem.Info
	st   pmem.Stats
}

// makeRegion creates r in dir, writes its puts (in key order) and deletes,
// records its info and stats, and closes it.
func makeRegion(t *testing.T, dir string, r *region) {
	t.Helper()
	s, err := pmem.Create(dir, r.name, pmem.Options{Owner: r.owner, Pinned: r.pinned, Mode: pmem.ModeEmulated})
	require.NoError(t, err)
	for _, k := range sortedKeys(r.puts) {
		require.NoError(t, s.Put(k, []byte(r.puts[k])))
	}
	for _, k := range r.dels {
		require.NoError(t, s.Delete(k))
	}
	r.path, r.info, r.st = s.Path(), s.Info(), s.Stats()
	require.NoError(t, s.Close())
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// healthyNamespace makes a namespace with two sound regions.
func healthyNamespace(t *testing.T) (string, *region, *region) {
	t.Helper()
	dir := t.TempDir()
	alpha := &region{name: "alpha", owner: "fn:guest/alpha",
		puts: map[string]string{"a": "1", "b": "22", "c": "333"}, dels: []string{"b"}}
	beta := &region{name: "beta", owner: "job:42", pinned: true,
		puts: map[string]string{"part-0": strings.Repeat("x", 5000)}}
	makeRegion(t, dir, alpha)
	makeRegion(t, dir, beta)
	return dir, alpha, beta
}

// damage describes one way of breaking a region for the tests.
type damage struct {
	name   string
	break_ func(t *testing.T, path string, r *region) (what string, off int64, kind error)
}

// The damaged regions hold these markers, so the tests find their bytes in
// the file instead of depending on where the store put them.
const (
	valueMarker = "VALUE-MARKER-0123456789"
	keyMarker   = "key-marker-0123456789"
)

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[off] ^= 0x5a
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func indexIn(t *testing.T, path, marker string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	i := bytes.Index(b, []byte(marker))
	require.GreaterOrEqual(t, i, 0, "marker %q not in %s", marker, path)
	require.Equal(t, -1, bytes.Index(b[i+1:], []byte(marker)), "marker %q twice in %s", marker, path)
	return int64(i)
}

// Offsets below come from the on-media layout (pmem/internal/layout): a
// record header is 32 bytes with its checksum at byte 28, followed by the
// key and the value; root slot i sits at 512+128*i, the active one being
// generation%2.
var damages = []damage{
	{"valuebad", func(t *testing.T, path string, _ *region) (string, int64, error) {
		off := indexIn(t, path, valueMarker)
		flipByte(t, path, off+3)
		return "record value", off, pmem.ErrCorrupt // found by check, not by open
	}},
	{"headerbad", func(t *testing.T, path string, _ *region) (string, int64, error) {
		off := indexIn(t, path, keyMarker)
		flipByte(t, path, off+1)
		return "record", off - 32 + 28, pmem.ErrCorrupt
	}},
	{"superbad", func(t *testing.T, path string, _ *region) (string, int64, error) {
		flipByte(t, path, 20) // reserved superblock bytes, covered by its checksum
		return "superblock", 0, pmem.ErrCorrupt
	}},
	{"shortroot", func(t *testing.T, path string, r *region) (string, int64, error) {
		require.NoError(t, os.Truncate(path, 64<<10))
		return fmt.Sprintf("root %d", r.info.Gen%2), 512 + 128*int64(r.info.Gen%2), pmem.ErrTruncated
	}},
	{"shorthead", func(t *testing.T, path string, _ *region) (string, int64, error) {
		require.NoError(t, os.Truncate(path, 100))
		return "superblock", 0, pmem.ErrTruncated
	}},
}

// damagedRegion is a region broken by one damage, and where.
type damagedRegion struct {
	*region
	what string
	off  int64
	kind error
}

// damagedNamespace makes a namespace with one sound region ("good") and one
// region per entry of damages.
func damagedNamespace(t *testing.T) (string, map[string]damagedRegion) {
	t.Helper()
	dir := t.TempDir()
	makeRegion(t, dir, &region{name: "good", puts: map[string]string{"k": "v"}})
	out := map[string]damagedRegion{}
	for _, d := range damages {
		r := &region{name: d.name, owner: "fn:guest/" + d.name,
			puts: map[string]string{"first": "1", keyMarker: valueMarker, "last": "3"}}
		makeRegion(t, dir, r)
		what, off, kind := d.break_(t, r.path, r)
		out[d.name] = damagedRegion{r, what, off, kind}
	}
	return dir, out
}

// rows splits a table into its lines' fields.
func rows(table string) [][]string {
	var out [][]string
	for _, l := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		out = append(out, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1))
	}
	return out
}

func TestCLIPmemLs(t *testing.T) {
	dir, alpha, beta := healthyNamespace(t)
	res := run(t, "pmem", "ls", "--pmem", "emulated", dir)
	require.NoError(t, res.err)
	require.Empty(t, res.stderr)
	got := rows(res.stdout)
	require.Equal(t, [][]string{
		{"NAME", "MODE", "SIZE", "USED", "KEYS", "OWNER", "PINNED", "STATE"},
		{"alpha", "emulated", "1 MiB", fmt.Sprintf("%.1f KiB", float64(alpha.st.UsedBytes())/1024), "2", "fn:guest/alpha", "no", "ok"},
		{"beta", "emulated", "1 MiB", fmt.Sprintf("%.1f KiB", float64(beta.st.UsedBytes())/1024), "1", "job:42", "yes", "ok"},
	}, got)
}

func TestCLIPmemLsJSON(t *testing.T) {
	dir, alpha, beta := healthyNamespace(t)
	res := run(t, "pmem", "ls", "--json", dir)
	require.NoError(t, res.err)
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), res.stdout)
	require.Len(t, got, 2)
	for i, r := range []*region{alpha, beta} {
		require.Equal(t, r.name, got[i]["name"])
		require.Equal(t, r.path, got[i]["path"])
		require.Equal(t, "ok", got[i]["state"])
		require.Equal(t, r.owner, got[i]["owner"])
		require.Equal(t, r.pinned, got[i]["pinned"])
		require.EqualValues(t, r.st.Keys, got[i]["keys"])
		require.EqualValues(t, r.st.UsedBytes(), got[i]["used"])
		require.EqualValues(t, r.info.Size, got[i]["size"])
		require.Contains(t, []string{"emulated", "fsdax"}, got[i]["mode"]) // auto: fsdax on a DAX filesystem
		require.NotContains(t, got[i], "error")
	}

	empty := run(t, "pmem", "ls", "--json", t.TempDir())
	require.NoError(t, empty.err)
	require.Equal(t, "[]\n", empty.stdout)
}

func TestCLIPmemLsDamaged(t *testing.T) {
	dir, dmg := damagedNamespace(t)

	// Hold one region open read-write, as a running function would.
	busy := &region{name: "busy", puts: map[string]string{"k": "v"}}
	makeRegion(t, dir, busy)
	s, err := pmem.Open(dir, "busy", pmem.Options{Mode: pmem.ModeEmulated})
	require.NoError(t, err)
	defer s.Close()

	res := run(t, "pmem", "ls", "--pmem", "emulated", dir)
	require.NoError(t, res.err, "ls lists damaged regions without failing")
	states := map[string]string{}
	for _, row := range rows(res.stdout)[1:] {
		states[row[0]] = row[len(row)-1]
	}
	require.Equal(t, map[string]string{
		"busy":      "in use",
		"good":      "ok",
		"headerbad": fmt.Sprintf("corrupt: record at %d: header checksum mismatch", dmg["headerbad"].off),
		"shorthead": "truncated: superblock at 0: region is 100 bytes",
		"shortroot": fmt.Sprintf("truncated: %s at %d: root describes 1048576 bytes but only 65536 are present", dmg["shortroot"].what, dmg["shortroot"].off),
		"superbad":  "corrupt: superblock at 0: checksum mismatch",
		"valuebad":  "ok", // only check reads values
	}, states)

	var entries []map[string]any
	res = run(t, "pmem", "ls", "--json", dir)
	require.NoError(t, res.err)
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &entries))
	for _, e := range entries {
		if e["name"] == "superbad" {
			require.Equal(t, "corrupt: superblock at 0: checksum mismatch", e["state"])
			require.Contains(t, e["error"], "superblock at offset 0 of "+dmg["superbad"].path)
			require.NotContains(t, e, "keys", "no details for a region that did not open")
			require.EqualValues(t, 1<<20, e["size"], "size of the file")
		}
	}
}

func TestCLIPmemInfo(t *testing.T) {
	dir, alpha, beta := healthyNamespace(t)

	res := run(t, "pmem", "info", "--pmem", "emulated", dir)
	require.NoError(t, res.err)
	out := res.stdout
	for _, r := range []*region{alpha, beta} {
		require.Contains(t, out, "region "+r.name+"\n")
		require.Contains(t, out, "uuid             "+hex.EncodeToString(r.info.UUID[:]))
		require.Contains(t, out, "owner            "+r.owner)
		require.Contains(t, out, fmt.Sprintf("log              start %d, tail %d, end %d", r.st.LogStart, r.st.Tail, r.st.LogEnd))
	}
	require.Contains(t, out, "  path             "+alpha.path+"\n")
	require.Contains(t, out, "  mode             emulated\n")
	require.Contains(t, out, "  created mode     emulated\n")
	require.Contains(t, out, "  format version   1\n")
	require.Contains(t, out, "  pinned           yes\n")
	require.Contains(t, out, "  size             1048576 (1 MiB)\n")
	require.Contains(t, out, fmt.Sprintf("  root generation  %d\n", alpha.info.Gen))
	require.Regexp(t, `  persistence      (msync|fence)\n`, out)

	// Named regions only, in the order given.
	res = run(t, "pmem", "info", dir, "beta", "alpha.region")
	require.NoError(t, res.err)
	require.Less(t, strings.Index(res.stdout, "region beta"), strings.Index(res.stdout, "region alpha"))

	// One region by path, as JSON.
	res = run(t, "pmem", "info", "--json", "--pmem", "emulated", alpha.path)
	require.NoError(t, res.err)
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got), res.stdout)
	require.Len(t, got, 1)
	g := got[0]
	require.Equal(t, "alpha", g["name"])
	require.Equal(t, alpha.path, g["path"])
	require.Equal(t, "emulated", g["mode"])
	require.Equal(t, "emulated", g["created_mode"])
	require.Equal(t, hex.EncodeToString(alpha.info.UUID[:]), g["uuid"])
	require.Equal(t, "fn:guest/alpha", g["owner"])
	require.Equal(t, false, g["pinned"])
	require.EqualValues(t, alpha.info.Gen, g["root_generation"])
	require.EqualValues(t, alpha.info.FormatVersion, g["format_version"])
	require.EqualValues(t, alpha.st.Size, g["size"])
	require.EqualValues(t, alpha.st.UsedBytes(), g["used"])
	require.EqualValues(t, alpha.st.FreeBytes, g["free"])
	require.EqualValues(t, alpha.st.LiveBytes, g["live"])
	require.EqualValues(t, alpha.st.GarbageBytes, g["garbage"])
	require.Positive(t, alpha.st.GarbageBytes, "the overwritten and deleted key left garbage")
	require.EqualValues(t, 2, g["keys"])
	require.EqualValues(t, alpha.st.LogStart, g["log_start"])
	require.EqualValues(t, alpha.st.Tail, g["log_tail"])
	require.Equal(t, alpha.info.Created.UTC(), mustTime(t, g["created"]).UTC())
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "created is %T", v)
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm
}

func slogText(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func TestCLIPmemInfoFailures(t *testing.T) {
	dir, dmg := damagedNamespace(t)
	res := run(t, "pmem", "info", dir, "good", "superbad", "missing")
	require.Error(t, res.err)
	require.Equal(t, 1, res.code())
	require.Equal(t, "pmem info: 2 of 3 regions did not open (first: pmem: region corrupt: superblock at offset 0 of "+
		dmg["superbad"].path+": checksum mismatch (stored ", res.err.Error()[:len(res.err.Error())-len("xxxxxxxx, computed xxxxxxxx))")])
	require.ErrorIs(t, res.err, pmem.ErrCorrupt)
	require.Contains(t, res.stdout, "region good\n")
	require.Contains(t, res.stdout, "  state  corrupt: superblock at 0: checksum mismatch\n")
	require.Contains(t, res.stdout, "superblock at offset 0 of "+dmg["superbad"].path)
	require.Contains(t, res.stdout, "  state  missing\n")

	empty := t.TempDir()
	res = run(t, "pmem", "info", empty)
	require.NoError(t, res.err)
	require.Equal(t, "no regions in "+empty+"\n", res.stdout)

	res = run(t, "pmem", "info", filepath.Join(empty, "nothing-here"))
	require.Error(t, res.err)
	require.Equal(t, 1, res.code())
	require.ErrorIs(t, res.err, os.ErrNotExist)
}

func TestCLIPmemCheckOK(t *testing.T) {
	dir, _, _ := healthyNamespace(t)
	res := run(t, "pmem", "check", dir)
	require.NoError(t, res.err)
	require.Equal(t,
		"alpha: ok (4 records: 3 puts, 1 delete; 2 keys; 160 B of log)\n"+
			"beta: ok (1 record: 1 put, 0 deletes; 1 key; 4.9 KiB of log)\n"+
			"checked 2 regions: 2 ok, 0 damaged\n", res.stdout)
}

func TestCLIPmemCheckDamaged(t *testing.T) {
	dir, dmg := damagedNamespace(t)

	res := run(t, "pmem", "check", dir)
	require.Error(t, res.err)
	require.Equal(t, 1, res.code())
	var ce *cli.CheckError
	require.ErrorAs(t, res.err, &ce)
	require.Equal(t, len(damages)+1, ce.Checked)
	require.Equal(t, len(damages), ce.Damaged)
	require.Zero(t, ce.Unchecked)
	require.Contains(t, res.stdout, "good: ok (1 record:")
	require.True(t, strings.HasSuffix(res.stdout, fmt.Sprintf("checked %d regions: 1 ok, %d damaged\n", len(damages)+1, len(damages))), res.stdout)

	// Each damaged region on its own, by path: the error names the file and
	// the offset of the damage.
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			want := dmg[d.name]
			res := run(t, "pmem", "check", want.path)
			require.Error(t, res.err)
			require.Equal(t, 1, res.code())
			var pe *pmem.CorruptError
			require.ErrorAs(t, res.err, &pe)
			require.Equal(t, want.path, pe.Path)
			require.Equal(t, want.off, pe.Offset)
			require.Equal(t, want.what, pe.What)
			require.ErrorIs(t, res.err, want.kind)
			where := fmt.Sprintf("%s at offset %d of %s", want.what, want.off, want.path)
			require.Contains(t, res.err.Error(), where)
			require.Contains(t, res.stdout, d.name+": DAMAGED, 1 problem\n  ")
			require.Contains(t, res.stdout, where)
			require.Contains(t, res.stdout, "checked 1 region: 0 ok, 1 damaged\n")
		})
	}

	// JSON carries the same.
	res = run(t, "pmem", "check", "--json", dir, "good", "valuebad")
	require.Error(t, res.err)
	var sum struct {
		Regions []struct {
			Name, Result string
			Problems     []string
			Records      int
		}
		Checked, OK, Damaged int
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &sum), res.stdout)
	require.Equal(t, 2, sum.Checked)
	require.Equal(t, 1, sum.OK)
	require.Equal(t, 1, sum.Damaged)
	require.Equal(t, "ok", sum.Regions[0].Result)
	require.Equal(t, "damaged", sum.Regions[1].Result)
	require.Equal(t, 3, sum.Regions[1].Records)
	require.Len(t, sum.Regions[1].Problems, 1)
	require.Contains(t, sum.Regions[1].Problems[0], fmt.Sprintf("record value at offset %d of %s: checksum mismatch for key %q",
		dmg["valuebad"].off, dmg["valuebad"].path, keyMarker))
}

func TestCLIPmemCheckEmptyFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.region"), nil, 0o644))
	res := run(t, "pmem", "check", dir)
	require.ErrorIs(t, res.err, pmem.ErrTruncated)
	require.Contains(t, res.stdout, "empty: DAMAGED")
	require.Contains(t, res.stdout, "checked 1 region: 0 ok, 1 damaged\n")
}

func TestCLIPmemCheckInUse(t *testing.T) {
	dir, _, _ := healthyNamespace(t)
	s, err := pmem.Open(dir, "beta", pmem.Options{})
	require.NoError(t, err)
	defer s.Close()

	res := run(t, "pmem", "check", dir)
	require.ErrorIs(t, res.err, pmem.ErrLocked)
	require.Equal(t, 1, res.code())
	require.Contains(t, res.stdout, "beta: could not be opened\n  pmem: region in use by another process")
	require.Contains(t, res.stdout, "checked 2 regions: 1 ok, 0 damaged, 1 could not be opened\n")
}

func TestCLIPmemForcedDAX(t *testing.T) {
	dir, alpha, _ := healthyNamespace(t)
	res := run(t, "pmem", "ls", "--pmem", "fsdax", dir)
	require.NoError(t, res.err)
	if strings.Contains(res.stdout, " fsdax ") {
		t.Skip("the temporary directory is on a DAX filesystem")
	}
	require.Contains(t, res.stdout, "error: not DAX")

	res = run(t, "pmem", "check", "--pmem", "fsdax", alpha.path)
	require.ErrorIs(t, res.err, pmem.ErrNotDAX)
	require.Contains(t, res.stdout, "could not be opened")

	res = run(t, "pmem", "info", "--pmem", "devdax", alpha.path)
	require.ErrorIs(t, res.err, pmem.ErrNotDAX)
	require.Contains(t, res.stdout, "  state  error: not DAX\n")
}

func TestCLIEnvironment(t *testing.T) {
	dir, _, _ := healthyNamespace(t)
	env := func(vars map[string]string) cli.Env {
		return cli.Env{Getenv: func(k string) string { return vars[k] }}
	}

	// MARVEL_PMEM sets the default of --pmem; the flag wins.
	res := runEnv(t, env(map[string]string{"MARVEL_PMEM": "fsdax"}), "pmem", "ls", dir)
	require.NoError(t, res.err)
	require.NotContains(t, res.stdout, " ok\n")
	res = runEnv(t, env(map[string]string{"MARVEL_PMEM": "fsdax"}), "pmem", "ls", "--pmem", "emulated", dir)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, " ok\n")

	res = runEnv(t, env(map[string]string{"MARVEL_PMEM": "nvdimm"}), "pmem", "ls", dir)
	require.Equal(t, 2, res.code())
	require.Contains(t, res.err.Error(), `MARVEL_PMEM="nvdimm"`)

	// MARVEL_LOG_LEVEL and --log-level: logs go to stderr.
	res = runEnv(t, env(map[string]string{"MARVEL_LOG_LEVEL": "info"}), "pmem", "check", dir)
	require.NoError(t, res.err)
	require.Contains(t, res.stderr, "msg=\"region mapped\"")
	require.Contains(t, res.stderr, "msg=\"region checked\"")
	res = runEnv(t, env(map[string]string{"MARVEL_LOG_LEVEL": "info"}), "--log-level", "error", "pmem", "check", dir)
	require.NoError(t, res.err)
	require.Empty(t, res.stderr)

	// An injected logger takes everything.
	var logs bytes.Buffer
	res = runEnv(t, cli.Env{Logger: slogText(&logs)}, "pmem", "check", dir)
	require.NoError(t, res.err)
	require.Empty(t, res.stderr)
	require.Contains(t, logs.String(), "region checked")
}

func TestCLIUsageErrors(t *testing.T) {
	dir, alpha, _ := healthyNamespace(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"nosuch"}, `unknown command "nosuch" for "marvel"`},
		{[]string{"pmem", "lss"}, `unknown command "lss" for "marvel pmem" (did you mean "ls"?)`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"pmem", "ls", "--bogus", dir}, "unknown flag: --bogus"},
		{[]string{"pmem", "ls"}, "accepts 1 arg(s), received 0"},
		{[]string{"pmem", "ls", dir, dir}, "accepts 1 arg(s), received 2"},
		{[]string{"pmem", "ls", "--pmem", "nvdimm", dir}, `invalid argument "nvdimm" for "--pmem" flag: pmem: unknown mode "nvdimm"`},
		{[]string{"--log-level", "loud", "version"}, `invalid argument "loud" for "--log-level" flag: unknown log level "loud"`},
		{[]string{"pmem", "info"}, "requires at least 1 arg(s), only received 0"},
		{[]string{"pmem", "check", dir, "bad/name"}, `region name "bad/name" has character '/'`},
		{[]string{"pmem", "check", alpha.path, "beta"}, "is a region file or device, not a namespace directory"},
		{[]string{"pmem", "info", "--json=maybe", dir}, `invalid argument "maybe" for "--json" flag`},
		{[]string{"version", "extra"}, `unknown command "extra" for "marvel version"`},
		{[]string{"standalone", "--isolate", "maybe"}, `--isolate "maybe": want true, false or auto`},
		{[]string{"standalone", "--max-activations", "0"}, "--max-activations 0: want at least 1"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := run(t, tc.args...)
			require.Error(t, res.err)
			var ue *cli.UsageError
			require.ErrorAs(t, res.err, &ue)
			require.Equal(t, 2, res.code())
			require.Contains(t, res.err.Error(), tc.msg)
			require.Contains(t, res.stderr, "Usage:\n  marvel", "usage is printed for usage errors")
			require.Empty(t, res.stdout)
		})
	}
}

func TestCLIRuntimeErrorsPrintNoUsage(t *testing.T) {
	dir, dmg := damagedNamespace(t)
	res := run(t, "pmem", "check", dmg["superbad"].path)
	require.Error(t, res.err)
	require.Equal(t, 1, res.code())
	require.NotContains(t, res.stderr, "Usage:")

	res = run(t, "pmem", "ls", filepath.Join(dir, "good.region"))
	require.Error(t, res.err)
	require.Equal(t, 1, res.code())
	require.Contains(t, res.err.Error(), "is not a namespace directory")
	require.Empty(t, res.stderr)
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"pmem"}, {"pmem", "--help"}, {"help", "pmem", "check"}} {
		res := run(t, args...)
		require.NoError(t, res.err, args)
		require.Contains(t, res.stdout, "Usage:", args)
		require.Empty(t, res.stderr, args)
	}
	res := run(t, "pmem")
	for _, sub := range []string{"ls", "info", "check"} {
		require.Regexp(t, `\n  `+sub+` +\S`, res.stdout)
	}
	require.Contains(t, res.stdout, "--pmem mode")
}

func TestCLIVersion(t *testing.T) {
	res := run(t, "version")
	require.NoError(t, res.err)
	require.Regexp(t, `^marvel \S+ .*go1\.\d+.* linux/amd64\n$|^marvel \S+ .*go1\.\d+.* \w+/\w+\n$`, res.stdout)
}

func TestCLICancelled(t *testing.T) {
	dir, _, _ := healthyNamespace(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	root := cli.NewRootCommand(cli.Env{Stdout: io.Discard})
	root.SetArgs([]string{"pmem", "check", dir})
	err := root.ExecuteContext(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, cli.ExitCode(err))
}

func TestCLIExitCode(t *testing.T) {
	require.Equal(t, 0, cli.ExitCode(nil))
	require.Equal(t, 1, cli.ExitCode(errors.New("boom")))
	require.Equal(t, 1, cli.ExitCode(&cli.CheckError{Checked: 1, Damaged: 1}))
	require.Equal(t, 2, cli.ExitCode(&cli.UsageError{Err: errors.New("bad flag")}))
	require.Equal(t, 2, cli.ExitCode(fmt.Errorf("wrapped: %w", &cli.UsageError{Err: errors.New("bad flag")})))
}
