package openwhisk_test

// Checks of the OpenWhisk deployment files that need no Docker engine, no
// OpenWhisk and no persistent memory: the runtimes manifest against the
// schema of OpenWhisk's ExecManifest, the Dockerfiles against the repository
// and the runtime's contract, the invoker settings against the invoker's
// configuration keys, and the scripts through bash -n and their --dry-run.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The image of the managed kind, as runtimes.json names it.
const (
	wantKind         = "marvel:1"
	wantRuntimeImage = "marvel/action-marvel-v1:latest"
	wantDataDir      = "/mnt/pmem/marvel"
)

// repoRoot is the root of the module: the nearest directory above the test's
// working directory holding the Marvel go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	require.NoError(t, err)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/marvel-serverless/marvel\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod of github.com/marvel-serverless/marvel above the test directory")
		dir = parent
	}
}

// ---------------------------------------------------------------------------
// runtimes.json: the schema of ExecManifest.scala. Pointers make a missing
// field visible; a field of the wrong JSON type fails decoding.

type imageName struct {
	Registry *string `json:"registry"`
	Prefix   *string `json:"prefix"`
	Name     *string `json:"name"`
	Tag      *string `json:"tag"`
}

func (i imageName) String() string {
	s := ""
	if i.Registry != nil && *i.Registry != "" {
		s += strings.TrimSuffix(*i.Registry, "/") + "/"
	}
	if i.Prefix != nil && *i.Prefix != "" {
		s += *i.Prefix + "/"
	}
	if i.Name != nil {
		s += *i.Name
	}
	if i.Tag != nil && *i.Tag != "" {
		s += ":" + *i.Tag
	}
	return s
}

type attachedCode struct {
	AttachmentName *string `json:"attachmentName"`
	AttachmentType *string `json:"attachmentType"`
}

type stemCell struct {
	InitialCount *int            `json:"initialCount"`
	Memory       *string         `json:"memory"`
	Reactive     json.RawMessage `json:"reactive"`
}

type runtimeManifest struct {
	Kind            *string       `json:"kind"`
	Default         *bool         `json:"default"`
	Deprecated      *bool         `json:"deprecated"`
	Image           *imageName    `json:"image"`
	Attached        *attachedCode `json:"attached"`
	RequireMain     *bool         `json:"requireMain"`
	SentinelledLogs *bool         `json:"sentinelledLogs"`
	StemCells       []stemCell    `json:"stemCells"`
}

type manifest struct {
	Description []string                     `json:"description"`
	Runtimes    map[string][]runtimeManifest `json:"runtimes"`
	Blackboxes  []imageName                  `json:"blackboxes"`
}

// decodeStrict decodes one JSON value from path into v, refusing unknown
// fields (a misspelt "stemcells" would otherwise be silently ignored by
// OpenWhisk too) and trailing data.
func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "%s", path)
	_, err = dec.Token()
	require.ErrorIs(t, err, io.EOF, "%s: data after the JSON value", path)
}

var (
	// ExecManifest: a kind "family:version"; "family:default" resolves only
	// for families matching [a-z0-9]+.
	kindRE = regexp.MustCompile(`^([a-z0-9]+):([A-Za-z0-9._-]+)$`)
	// Docker reference grammar (distribution/reference), as ExecManifest uses.
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE           = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// ByteSize as the manifest examples write it.
	memoryRE = regexp.MustCompile(`^[1-9][0-9]* MB$`)
)

func checkImageName(t *testing.T, what string, img imageName) {
	t.Helper()
	require.NotNil(t, img.Name, "%s: image.name is required", what)
	require.Regexp(t, pathComponentRE, *img.Name, "%s: image.name", what)
	if img.Prefix != nil {
		for _, c := range strings.Split(*img.Prefix, "/") {
			require.Regexp(t, pathComponentRE, c, "%s: image.prefix %q", what, *img.Prefix)
		}
	}
	if img.Tag != nil {
		require.Regexp(t, tagRE, *img.Tag, "%s: image.tag", what)
	}
}

// checkFamily applies ExecManifest's rules to one runtime family.
func checkFamily(t *testing.T, family string, versions []runtimeManifest) {
	t.Helper()
	require.NotEmpty(t, versions, "family %s has no kinds", family)
	defaults := 0
	kinds := map[string]bool{}
	for i, m := range versions {
		require.NotNil(t, m.Kind, "%s[%d]: kind is required", family, i)
		kind := *m.Kind
		sub := kindRE.FindStringSubmatch(kind)
		require.NotNil(t, sub, "%s[%d]: kind %q is not family:version", family, i, kind)
		require.Equal(t, family, sub[1], "%s[%d]: kind %q is not in its family", family, i, kind)
		require.False(t, kinds[kind], "%s: kind %q twice", family, kind)
		kinds[kind] = true
		if m.Default != nil && *m.Default {
			defaults++
		}
		require.NotNil(t, m.Deprecated, "%s: deprecated must be present (ansible pulls only images with deprecated == false)", kind)
		require.False(t, *m.Deprecated, "%s: a deprecated kind cannot be created or invoked", kind)
		require.NotNil(t, m.Image, "%s: image is required", kind)
		checkImageName(t, kind, *m.Image)
		require.NotNil(t, m.Image.Prefix, "%s: image.prefix (ansible pulls prefix/name:tag)", kind)
		require.NotNil(t, m.Image.Tag, "%s: image.tag (ansible pulls prefix/name:tag)", kind)
		require.NotNil(t, m.Attached, "%s: attached is required for code stored as an attachment", kind)
		require.NotNil(t, m.Attached.AttachmentName, "%s: attached.attachmentName", kind)
		require.NotEmpty(t, *m.Attached.AttachmentName, "%s: attached.attachmentName", kind)
		require.NotNil(t, m.Attached.AttachmentType, "%s: attached.attachmentType", kind)
		require.NotEmpty(t, *m.Attached.AttachmentType, "%s: attached.attachmentType", kind)
		for j, sc := range m.StemCells {
			require.NotNil(t, sc.InitialCount, "%s: stemCells[%d].initialCount", kind, j)
			require.Positive(t, *sc.InitialCount, "%s: stemCells[%d].initialCount", kind, j)
			require.NotNil(t, sc.Memory, "%s: stemCells[%d].memory", kind, j)
			require.Regexp(t, memoryRE, *sc.Memory, "%s: stemCells[%d].memory", kind, j)
		}
	}
	// ExecManifest: one default per family, or a single kind.
	if len(versions) > 1 {
		require.Equal(t, 1, defaults, "family %s: exactly one kind must have default: true", family)
	} else {
		require.LessOrEqual(t, defaults, 1)
	}
}

func checkMarvelEntry(t *testing.T, versions []runtimeManifest) {
	t.Helper()
	require.Len(t, versions, 1, "the marvel family has one kind")
	m := versions[0]
	require.Equal(t, wantKind, *m.Kind)
	require.NotNil(t, m.Default)
	require.True(t, *m.Default, "marvel:1 is the default of its family (marvel:default)")
	require.Equal(t, "marvel", *m.Image.Prefix)
	require.Equal(t, "action-marvel-v1", *m.Image.Name)
	require.Equal(t, "latest", *m.Image.Tag)
	require.Nil(t, m.Image.Registry)
	require.Equal(t, wantRuntimeImage, m.Image.String())
	require.Equal(t, "codefile", *m.Attached.AttachmentName)
	require.Equal(t, "text/plain", *m.Attached.AttachmentType)
	require.Len(t, m.StemCells, 1)
	require.Equal(t, 1, *m.StemCells[0].InitialCount)
	require.Equal(t, "256 MB", *m.StemCells[0].Memory)
	// The runtime writes the log sentinels and main defaults to "main".
	require.True(t, m.SentinelledLogs == nil || *m.SentinelledLogs, "the runtime writes sentinels")
	require.True(t, m.RequireMain == nil || !*m.RequireMain)
}

// Field names, exactly: OpenWhisk's JSON reader is case-sensitive and ignores
// unknown fields, while encoding/json matches names case-insensitively.
var (
	manifestKeys = []string{"description", "runtimes", "blackboxes"}
	runtimeKeys  = []string{"kind", "default", "deprecated", "image", "attached", "requireMain", "sentinelledLogs", "stemCells"}
	imageKeys    = []string{"registry", "prefix", "name", "tag"}
	attachedKeys = []string{"attachmentName", "attachmentType"}
	stemCellKeys = []string{"initialCount", "memory", "reactive"}
)

// checkKeys checks the exact spelling of every field name in a manifest, or
// in a runtimes entry (a map of families) when entry is true.
func checkKeys(t *testing.T, path string, entry bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	keysIn := func(what string, v any, allowed []string) map[string]any {
		t.Helper()
		obj, ok := v.(map[string]any)
		require.True(t, ok, "%s: %s is not an object", path, what)
		for k := range obj {
			require.Contains(t, allowed, k, "%s: %s has an unknown field %q (names are case-sensitive)", path, what, k)
		}
		return obj
	}
	families := doc
	if !entry {
		keysIn("the manifest", doc, manifestKeys)
		families, _ = doc["runtimes"].(map[string]any)
		if bbs, ok := doc["blackboxes"].([]any); ok {
			for i, bb := range bbs {
				keysIn(fmt.Sprintf("blackboxes[%d]", i), bb, imageKeys)
			}
		}
	}
	for family, versions := range families {
		list, ok := versions.([]any)
		require.True(t, ok, "%s: family %s is not a list", path, family)
		for i, v := range list {
			what := fmt.Sprintf("%s[%d]", family, i)
			rt := keysIn(what, v, runtimeKeys)
			if img, ok := rt["image"]; ok {
				keysIn(what+".image", img, imageKeys)
			}
			if att, ok := rt["attached"]; ok {
				keysIn(what+".attached", att, attachedKeys)
			}
			if scs, ok := rt["stemCells"].([]any); ok {
				for j, sc := range scs {
					keysIn(fmt.Sprintf("%s.stemCells[%d]", what, j), sc, stemCellKeys)
				}
			}
		}
	}
}

func TestRuntimesManifest(t *testing.T) {
	var mf manifest
	decodeStrict(t, "runtimes.json", &mf)
	checkKeys(t, "runtimes.json", false)

	require.NotEmpty(t, mf.Runtimes, "runtimes is required")
	for family, versions := range mf.Runtimes {
		checkFamily(t, family, versions)
	}
	require.Contains(t, mf.Runtimes, "marvel")
	checkMarvelEntry(t, mf.Runtimes["marvel"])

	// The runtime image is also a blackbox image: `--docker` actions on it
	// skip the docker pull and have sentinelled logs.
	require.NotEmpty(t, mf.Blackboxes)
	var refs []string
	for i, b := range mf.Blackboxes {
		checkImageName(t, fmt.Sprintf("blackboxes[%d]", i), b)
		refs = append(refs, b.String())
	}
	require.Contains(t, refs, wantRuntimeImage)
}

func TestRuntimesEntry(t *testing.T) {
	var entry map[string][]runtimeManifest
	decodeStrict(t, "runtimes-entry.json", &entry)
	checkKeys(t, "runtimes-entry.json", true)
	require.Len(t, entry, 1, "runtimes-entry.json holds only the marvel family")
	for family, versions := range entry {
		checkFamily(t, family, versions)
	}
	checkMarvelEntry(t, entry["marvel"])

	// Byte for byte the same JSON value as the family in the full manifest.
	var full struct {
		Runtimes map[string]any `json:"runtimes"`
	}
	var part map[string]any
	b, err := os.ReadFile("runtimes.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &full))
	b, err = os.ReadFile("runtimes-entry.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &part))
	require.Equal(t, full.Runtimes["marvel"], part["marvel"], "runtimes-entry.json and runtimes.json disagree on the marvel family")
}

// ---------------------------------------------------------------------------
// Dockerfiles: a small parser, enough for these files.

type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string // the rest, continuation lines joined
	Line int
}

type stage struct {
	Base   string // the FROM image, build ARGs substituted
	Name   string // AS name
	Instrs []instruction
}

type dockerfile struct {
	Path   string
	Args   map[string]string // ARGs before the first FROM, with defaults
	Stages []stage
}

// parseDockerfile splits a Dockerfile into stages of instructions. Comment
// lines (also inside continuations) and blank lines are dropped, lines ending
// in a backslash are joined, as docker build does.
func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	df := dockerfile{Path: path, Args: map[string]string{}}
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		switch {
		case in.Cmd == "FROM":
			words := strings.Fields(in.Args)
			require.NotEmpty(t, words, "%s:%d: FROM without an image", path, in.Line)
			st := stage{Base: expandArgs(words[0], df.Args)}
			if len(words) == 3 && strings.EqualFold(words[1], "AS") {
				st.Name = words[2]
			}
			df.Stages = append(df.Stages, st)
		case len(df.Stages) == 0:
			require.Equal(t, "ARG", in.Cmd, "%s:%d: only ARG may come before FROM", path, in.Line)
			name, def, _ := strings.Cut(in.Args, "=")
			df.Args[name] = def
		default:
			last := &df.Stages[len(df.Stages)-1]
			last.Instrs = append(last.Instrs, in)
		}
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	require.NoError(t, sc.Err())
	flush()
	require.NotEmpty(t, df.Stages, "%s has no FROM", path)
	return df
}

var argRefRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

func expandArgs(s string, args map[string]string) string {
	return argRefRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := argRefRE.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if v, ok := args[name]; ok {
			return v
		}
		return m
	})
}

func (df dockerfile) final() stage { return df.Stages[len(df.Stages)-1] }

func (df dockerfile) stage(name string) (stage, bool) {
	for _, st := range df.Stages {
		if st.Name == name {
			return st, true
		}
	}
	return stage{}, false
}

// words splits shell-like text into words, honouring single and double
// quotes and backslash escapes.
func words(s string) []string {
	var out []string
	var w strings.Builder
	in := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			w.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc = true
			in = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			in = true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, w.String())
	}
	return out
}

// envOf is the environment an ENV instruction sets (both KEY=VALUE pairs and
// the old "ENV KEY VALUE" form).
func envOf(t *testing.T, in instruction) map[string]string {
	t.Helper()
	env := map[string]string{}
	ws := words(in.Args)
	require.NotEmpty(t, ws, "line %d: empty ENV", in.Line)
	if !strings.Contains(ws[0], "=") {
		k, v, _ := strings.Cut(in.Args, " ")
		env[k] = strings.TrimSpace(v)
		return env
	}
	for _, w := range ws {
		k, v, ok := strings.Cut(w, "=")
		require.True(t, ok, "line %d: ENV word %q is not KEY=VALUE", in.Line, w)
		env[k] = v
	}
	return env
}

// copySpec is a COPY or ADD: its flags, sources and destination.
type copySpec struct {
	From    string // --from stage or image, "" for the build context
	Sources []string
	Dest    string
	Line    int
}

func copyOf(t *testing.T, in instruction) copySpec {
	t.Helper()
	spec := copySpec{Line: in.Line}
	var args []string
	if strings.HasPrefix(in.Args, "[") {
		require.NoError(t, json.Unmarshal([]byte(in.Args), &args), "line %d: %s JSON form", in.Line, in.Cmd)
	} else {
		for _, w := range words(in.Args) {
			if strings.HasPrefix(w, "--") {
				if v, ok := strings.CutPrefix(w, "--from="); ok {
					spec.From = v
				}
				continue
			}
			args = append(args, w)
		}
	}
	require.GreaterOrEqual(t, len(args), 2, "line %d: %s needs a source and a destination", in.Line, in.Cmd)
	spec.Sources = args[:len(args)-1]
	spec.Dest = args[len(args)-1]
	return spec
}

// copies lists the COPY and ADD instructions of a stage with their
// destinations made absolute against the WORKDIR in force.
func copies(t *testing.T, st stage) []copySpec {
	t.Helper()
	var out []copySpec
	wd := "/"
	for _, in := range st.Instrs {
		switch in.Cmd {
		case "WORKDIR":
			if filepath.IsAbs(in.Args) {
				wd = filepath.Clean(in.Args)
			} else {
				wd = filepath.Join(wd, in.Args)
			}
		case "COPY", "ADD":
			c := copyOf(t, in)
			dest := c.Dest
			if !filepath.IsAbs(dest) {
				dest = filepath.Join(wd, dest)
			}
			c.Dest = filepath.Clean(dest)
			out = append(out, c)
		}
	}
	return out
}

var dockerfiles = []string{"Dockerfile", "Dockerfile.blackbox"}

// TestDockerfileCopySources checks that every COPY/ADD from the build context
// (the repository root, as build-image.sh runs docker build) names a path that
// exists.
func TestDockerfileCopySources(t *testing.T) {
	root := repoRoot(t)
	for _, name := range dockerfiles {
		t.Run(name, func(t *testing.T) {
			df := parseDockerfile(t, name)
			fromContext := 0
			for _, st := range df.Stages {
				for _, c := range copies(t, st) {
					if c.From != "" {
						continue
					}
					for _, src := range c.Sources {
						require.NotContains(t, src, "://", "%s:%d: remote ADD sources are not checked; avoid them", name, c.Line)
						rel := filepath.Clean(filepath.FromSlash(src))
						require.False(t, filepath.IsAbs(rel) || strings.HasPrefix(rel, ".."),
							"%s:%d: source %q is outside the build context", name, c.Line, src)
						fromContext++
						if strings.ContainsAny(rel, "*?[") {
							matches, err := filepath.Glob(filepath.Join(root, rel))
							require.NoError(t, err)
							require.NotEmpty(t, matches, "%s:%d: COPY source %q matches nothing in %s", name, c.Line, src, root)
							continue
						}
						_, err := os.Stat(filepath.Join(root, rel))
						require.NoError(t, err, "%s:%d: COPY source %q does not exist in the repository %s", name, c.Line, src, root)
					}
				}
			}
			require.Positive(t, fromContext, "%s copies nothing from the build context", name)
		})
	}
}

func TestRuntimeDockerfile(t *testing.T) {
	root := repoRoot(t)
	df := parseDockerfile(t, "Dockerfile")
	require.GreaterOrEqual(t, len(df.Stages), 2, "a builder stage and the runtime stage")
	final := df.final()

	// The final stage is the official Go image (source actions compile at
	// /init), at the Go version of go.mod.
	require.True(t, strings.HasPrefix(final.Base, "golang:"), "final stage FROM %q: want the official golang image", final.Base)
	require.Contains(t, final.Base, "-bookworm")
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	require.NotNil(t, m, "go directive in go.mod")
	require.True(t, strings.HasPrefix(final.Base, "golang:"+string(m[1])),
		"final stage FROM %q does not match go %s of go.mod", final.Base, m[1])

	// The marvel binary comes from a builder stage that builds ./cmd/marvel
	// without cgo.
	var fromStage string
	for _, c := range copies(t, final) {
		if c.Dest == "/usr/local/bin/marvel" {
			fromStage = c.From
		}
	}
	require.NotEmpty(t, fromStage, "the final stage copies /usr/local/bin/marvel from a builder stage")
	builder, ok := df.stage(fromStage)
	require.True(t, ok, "no stage named %q", fromStage)
	built := false
	for _, in := range builder.Instrs {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "CGO_ENABLED=0 go build") &&
			strings.Contains(in.Args, "-o /usr/local/bin/marvel") && strings.Contains(in.Args, "./cmd/marvel") {
			built = true
		}
	}
	require.True(t, built, "stage %s runs CGO_ENABLED=0 go build -o /usr/local/bin/marvel ./cmd/marvel", fromStage)

	// The module source the SDK is compiled from.
	srcs := map[string]string{}
	for _, c := range copies(t, final) {
		if c.From != "" {
			continue
		}
		for _, s := range c.Sources {
			dest := c.Dest
			if len(c.Sources) > 1 || strings.HasSuffix(c.Dest, "/") {
				dest = filepath.Join(c.Dest, filepath.Base(s))
			}
			srcs[filepath.Clean(s)] = dest
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "pmem", "runtime"} {
		require.Contains(t, srcs, p, "the final stage copies %s into the SDK source", p)
		require.Equal(t, filepath.Join("/opt/marvel/src", p), srcs[p], "destination of %s", p)
	}

	// Environment, in order: the module download runs before GOPROXY=off,
	// the cache is warmed after GOCACHE is set.
	env := map[string]string{}
	envAt := map[string]int{}
	var entrypoint []string
	exposed := false
	downloadAt, warmAt := -1, -1
	warm := ""
	for i, in := range final.Instrs {
		switch in.Cmd {
		case "ENV":
			for k, v := range envOf(t, in) {
				env[k] = v
				envAt[k] = i
			}
		case "RUN":
			if strings.Contains(in.Args, "go mod download") {
				downloadAt = i
			}
			if regexp.MustCompile(`go build (-\S+ )*\./runtime/sdk/\.\.\.`).MatchString(in.Args) {
				warmAt = i
				warm = in.Args
			}
		case "EXPOSE":
			for _, p := range strings.Fields(in.Args) {
				if p == "8080" || p == "8080/tcp" {
					exposed = true
				}
			}
		case "ENTRYPOINT":
			entrypoint = nil
			require.True(t, strings.HasPrefix(in.Args, "["), "line %d: ENTRYPOINT must be the exec (JSON) form, so that marvel gets the signals", in.Line)
			require.NoError(t, json.Unmarshal([]byte(in.Args), &entrypoint))
		}
	}
	require.Equal(t, []string{"/usr/bin/tini", "--", "/usr/local/bin/marvel", "runtime"}, entrypoint, "marvel runtime under tini (PID 1 must reap orphans)")
	require.True(t, exposed, "EXPOSE 8080")
	for k, v := range map[string]string{
		"MARVEL_SDK_DIR": "/opt/marvel/src",
		"MARVEL_DATA":    wantDataDir,
		"GOFLAGS":        "-mod=mod",
		"GOPROXY":        "off",
		"GOSUMDB":        "off",
		"GOCACHE":        "/opt/marvel/gocache",
	} {
		require.Contains(t, env, k, "ENV %s", k)
		require.Equal(t, v, env[k], "ENV %s", k)
	}
	require.GreaterOrEqual(t, downloadAt, 0, "the final stage runs go mod download")
	require.Less(t, downloadAt, envAt["GOPROXY"], "go mod download must run before GOPROXY=off")
	require.GreaterOrEqual(t, warmAt, 0, "the final stage warms the build cache with go build [flags] ./runtime/sdk/...")
	require.Greater(t, warmAt, envAt["GOCACHE"], "the cache must be warmed after GOCACHE is set")
	require.Greater(t, warmAt, envAt["GOFLAGS"], "the cache must be warmed with the flags /init uses")

	// Build cache entries depend on CGO_ENABLED, -trimpath and the module
	// version of the Marvel packages, so the warm-up must build the way
	// runtime/gobuild does at /init, or /init recompiles everything.
	gobuild, err := os.ReadFile(filepath.Join(root, "runtime", "gobuild", "build.go"))
	require.NoError(t, err)
	for _, s := range []string{"CGO_ENABLED=0", "-trimpath", "@v0.0.0-00010101000000-000000000000", "-replace="} {
		require.Contains(t, string(gobuild), s, "runtime/gobuild changed how /init builds: update the cache warm-up in the Dockerfile to match, then this test")
		require.Contains(t, warm, s, "the cache warm-up does not build as runtime/gobuild does")
	}
	require.Contains(t, warm, `-replace=github.com/marvel-serverless/marvel="$MARVEL_SDK_DIR"`)
	builds := strings.Split(warm, "go build ")[1:]
	require.GreaterOrEqual(t, len(builds), 2, "the warm-up builds in place and as a launcher module")
	for _, b := range builds {
		require.True(t, strings.HasPrefix(b, "-trimpath "), "every warm-up go build uses -trimpath: go build %.40s", b)
	}
	require.Contains(t, warm, "export CGO_ENABLED=0", "every warm-up build runs without cgo")
}

func TestBlackboxDockerfile(t *testing.T) {
	df := parseDockerfile(t, "Dockerfile.blackbox")
	require.Equal(t, wantRuntimeImage, df.Args["RUNTIME_IMAGE"], "the default base is the runtime image of runtimes.json")
	final := df.final()
	require.Equal(t, wantRuntimeImage, final.Base, "the blackbox image is built FROM the runtime image")

	env := map[string]string{}
	for _, in := range final.Instrs {
		if in.Cmd == "ENV" {
			for k, v := range envOf(t, in) {
				env[k] = v
			}
		}
		require.NotEqual(t, "ENTRYPOINT", in.Cmd, "the runtime image's ENTRYPOINT must stay")
	}
	require.Equal(t, "/action/exec", env["MARVEL_BUILTIN"])

	var exec *copySpec
	for _, c := range copies(t, final) {
		if c.Dest == "/action/exec" {
			exec = &c
		}
	}
	require.NotNil(t, exec, "the final stage copies the action to /action/exec")
}

// ---------------------------------------------------------------------------
// Invoker settings.

// hoconKey turns a CONFIG_ variable name into the configuration path the
// invoker's transformEnvironment.sh makes of it: "_" separates path
// elements, camelCase becomes kebab-case, PascalCase elements stay.
func hoconKey(name string) string {
	rest := strings.TrimPrefix(name, "CONFIG_")
	camel := regexp.MustCompile(`([a-z0-9])([A-Z])`)
	var parts []string
	for _, p := range strings.Split(rest, "_") {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			parts = append(parts, p)
			continue
		}
		parts = append(parts, camel.ReplaceAllStringFunc(p, func(m string) string {
			return m[:1] + "-" + strings.ToLower(m[1:])
		}))
	}
	return strings.Join(parts, ".")
}

func TestHoconKey(t *testing.T) {
	require.Equal(t, "whisk.container-factory.container-args.extra-args.device.0",
		hoconKey("CONFIG_whisk_containerFactory_containerArgs_extraArgs_device_0"))
	require.Equal(t, "whisk.spi.LogStoreProvider", hoconKey("CONFIG_whisk_spi_LogStoreProvider"))
}

type envLine struct {
	Key, Value string
	Active     bool // false: commented out
}

func readEnvFile(t *testing.T, path string) []envLine {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []envLine
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		active := true
		if c, ok := strings.CutPrefix(line, "#"); ok {
			c = strings.TrimSpace(c)
			if !strings.HasPrefix(c, "CONFIG_") {
				continue // prose
			}
			line, active = c, false
		}
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s:%d: not KEY=VALUE: %q", path, i+1, line)
		require.Regexp(t, `^CONFIG_[A-Za-z0-9_]+$`, k, "%s:%d", path, i+1)
		require.NotContains(t, v, `"`, "%s:%d: docker --env-file keeps quotes as part of the value", path, i+1)
		require.NotEmpty(t, v, "%s:%d: the invoker ignores empty CONFIG_ values", path, i+1)
		out = append(out, envLine{Key: k, Value: v, Active: active})
	}
	return out
}

func TestInvokerEnv(t *testing.T) {
	lines := readEnvFile(t, "invoker-pmem.env")
	active := map[string]string{}
	all := map[string]string{}
	for _, l := range lines {
		key := hoconKey(l.Key)
		require.True(t, strings.HasPrefix(key, "whisk.container-factory.container-args.extra-args.") ||
			strings.HasPrefix(key, "whisk.container-factory.container-args.extra-env-vars."),
			"%s is %s, not a container-args setting", l.Key, key)
		require.Regexp(t, `\.[0-9]+$`, key, "%s: list elements need an index", l.Key)
		all[key] = l.Value
		if l.Active {
			require.NotContains(t, active, key, "%s set twice", key)
			active[key] = l.Value
		}
	}

	// fsdax is on: the host directory is mounted at the image's MARVEL_DATA.
	vol, ok := active["whisk.container-factory.container-args.extra-args.volume.0"]
	require.True(t, ok, "an active extra-args volume")
	parts := strings.Split(vol, ":")
	require.GreaterOrEqual(t, len(parts), 2, "volume %q is HOST:CONTAINER[:OPTS]", vol)
	require.Equal(t, wantDataDir, parts[1], "the volume is mounted at MARVEL_DATA")
	require.Contains(t, slices.Collect(maps.Values(active)), "MARVEL_PMEM=fsdax")

	// devdax is there, commented out: a listed device that does not exist
	// fails every docker run.
	dev, ok := all["whisk.container-factory.container-args.extra-args.device.0"]
	require.True(t, ok, "a (commented) extra-args device")
	require.True(t, strings.HasPrefix(dev, "/dev/dax"), "device %q", dev)
	require.NotContains(t, active, "whisk.container-factory.container-args.extra-args.device.0",
		"volume and device must not both be active")
}

func TestInvokerConf(t *testing.T) {
	b, err := os.ReadFile("invoker-pmem.conf")
	require.NoError(t, err)
	var active []string
	depth := 0
	var path []string
	keyRE := regexp.MustCompile(`^([A-Za-z0-9_-]+)\s*(?:[:=]\s*)?\{\s*$`)
	for i, raw := range strings.Split(string(b), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		active = append(active, line)
		switch {
		case keyRE.MatchString(line):
			path = append(path, keyRE.FindStringSubmatch(line)[1])
			depth++
		case line == "}":
			depth--
			require.GreaterOrEqual(t, depth, 0, "line %d: unbalanced }", i+1)
			path = path[:len(path)-1]
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.TrimSpace(k) == "extra-env-vars" {
				require.Equal(t, "whisk.container-factory.container-args", strings.Join(path, "."), "line %d", i+1)
			}
			if ok && strings.TrimSpace(k) == "volume" {
				require.Equal(t, "whisk.container-factory.container-args.extra-args", strings.Join(path, "."), "line %d", i+1)
				var vols []string
				require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(v)), &vols), "line %d", i+1)
				require.Len(t, vols, 1)
				require.Equal(t, wantDataDir, strings.Split(vols[0], ":")[1], "the volume is mounted at MARVEL_DATA")
			}
		}
	}
	require.Zero(t, depth, "unbalanced braces")
	require.Equal(t, `include classpath("application.conf")`, active[0],
		"a config file given to the invoker replaces application.conf unless it includes it")
	text := strings.Join(active, "\n")
	require.Contains(t, text, "volume:", "fsdax volume is active")
	require.NotContains(t, text, "device:", "the devdax device stays commented out")
	require.Contains(t, string(b), `# device: ["/dev/dax`, "the devdax form is shown")
	require.Contains(t, text, `extra-env-vars: ["MARVEL_PMEM=fsdax"]`)
}

// ---------------------------------------------------------------------------
// Scripts.

var scripts = []string{"build-image.sh", "prepare-pmem.sh", "deploy-action.sh"}

func scriptPath(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "scripts", "openwhisk", name)
}

// runScript runs a script with bash in dir, with the variables the scripts
// read taken out of the environment and env added.
func runScript(t *testing.T, dir string, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{scriptPath(t, name)}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WSK", "WHISK_APIHOST", "WHISK_AUTH", "DOCKER":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s timed out", name)
	code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

// commands are the lines a script printed for the commands it runs (or would).
func commands(stdout string) []string {
	var out []string
	for _, l := range strings.Split(stdout, "\n") {
		if c, ok := strings.CutPrefix(l, "+ "); ok {
			out = append(out, c)
		}
	}
	return out
}

// indexOf is the index of the first command starting with prefix, or -1.
func indexOf(cmds []string, prefix string) int {
	return slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func TestScriptsSyntax(t *testing.T) {
	_, err := exec.LookPath("bash")
	require.NoError(t, err, "bash is needed to check the scripts")
	dir := filepath.Join(repoRoot(t), "scripts", "openwhisk")
	found, err := filepath.Glob(filepath.Join(dir, "*.sh"))
	require.NoError(t, err)
	var names []string
	for _, p := range found {
		names = append(names, filepath.Base(p))
	}
	for _, s := range scripts {
		require.Contains(t, names, s)
	}
	for _, p := range found {
		t.Run(filepath.Base(p), func(t *testing.T) {
			out, err := exec.Command("bash", "-n", p).CombinedOutput()
			require.NoError(t, err, "bash -n %s: %s", p, out)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(b), "#!/usr/bin/env bash\n"), "shebang")
			require.Contains(t, string(b), "\nset -euo pipefail\n")
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.NotZero(t, fi.Mode().Perm()&0o111, "%s is not executable", p)
			stdout, _, code := runScript(t, t.TempDir(), nil, filepath.Base(p), "--help")
			require.Zero(t, code, "--help")
			require.Contains(t, stdout, "Usage")
		})
	}
}

func TestPreparePmemFsdaxDryRun(t *testing.T) {
	stdout, stderr, code := runScript(t, t.TempDir(), nil, "prepare-pmem.sh", "--dry-run", "--fsdax", "/dev/pmem0", "/mnt/pmem")
	require.Zero(t, code, "stderr: %s", stderr)
	cmds := commands(stdout)
	ndctl := indexOf(cmds, "ndctl create-namespace --mode=fsdax")
	mkfs := indexOf(cmds, "mkfs.ext4 ")
	mount := indexOf(cmds, "mount -o dax /dev/pmem0 /mnt/pmem")
	mkdir := indexOf(cmds, "mkdir -p /mnt/pmem/marvel")
	chmod := indexOf(cmds, "chmod 0770 /mnt/pmem/marvel")
	for what, i := range map[string]int{"ndctl": ndctl, "mkfs": mkfs, "mount": mount, "mkdir": mkdir, "chmod": chmod} {
		require.GreaterOrEqual(t, i, 0, "no %s command in:\n%s", what, stdout)
	}
	require.True(t, ndctl < mkfs && mkfs < mount && mount < mkdir && mkdir < chmod, "order of the steps:\n%s", stdout)
	require.True(t, strings.HasSuffix(cmds[mkfs], " /dev/pmem0"), cmds[mkfs])

	// xfs: reflink off (DAX and reflink do not mix); an existing namespace
	// reconfigured; and a dry run changes nothing.
	mnt := filepath.Join(t.TempDir(), "mnt")
	stdout, stderr, code = runScript(t, t.TempDir(), nil, "prepare-pmem.sh",
		"--dry-run", "--fs", "xfs", "--reconfig", "namespace0.0", "--fsdax", "/dev/pmem1", mnt)
	require.Zero(t, code, "stderr: %s", stderr)
	cmds = commands(stdout)
	require.GreaterOrEqual(t, indexOf(cmds, "ndctl create-namespace --mode=fsdax --force --reconfig=namespace0.0"), 0, stdout)
	require.GreaterOrEqual(t, indexOf(cmds, "mkfs.xfs -f -m reflink=0"), 0, stdout)
	require.GreaterOrEqual(t, indexOf(cmds, "mount -o dax /dev/pmem1 "+mnt), 0, stdout)
	require.NoDirExists(t, mnt, "a dry run must not create the mount point")
}

func TestPreparePmemDevdaxDryRun(t *testing.T) {
	stdout, stderr, code := runScript(t, t.TempDir(), nil, "prepare-pmem.sh", "--dry-run", "--devdax", "--region", "region1")
	require.Zero(t, code, "stderr: %s", stderr)
	cmds := commands(stdout)
	i := indexOf(cmds, "ndctl create-namespace --mode=devdax")
	require.GreaterOrEqual(t, i, 0, stdout)
	require.Contains(t, cmds[i], "--region=region1")
	require.Contains(t, cmds[i], "--align 2M")
}

func TestPreparePmemEmulate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "marvel")

	stdout, stderr, code := runScript(t, t.TempDir(), nil, "prepare-pmem.sh", "--dry-run", "--emulate", dir)
	require.Zero(t, code, "stderr: %s", stderr)
	require.Contains(t, commands(stdout), "mkdir -p "+dir)
	require.NoDirExists(t, dir, "a dry run must not create the directory")

	stdout, stderr, code = runScript(t, t.TempDir(), nil, "prepare-pmem.sh", "--emulate", dir)
	require.Zero(t, code, "stdout: %s\nstderr: %s", stdout, stderr)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, os.FileMode(0o770), fi.Mode().Perm())

	// Again, with another mode: idempotent, and the mode is applied.
	_, stderr, code = runScript(t, t.TempDir(), nil, "prepare-pmem.sh", "--emulate", dir, "--mode", "0700")
	require.Zero(t, code, "stderr: %s", stderr)
	fi, err = os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
}

func TestPreparePmemUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--dry-run"},
		{"--dry-run", "--fsdax", "/dev/pmem0"},
		{"--dry-run", "--fsdax", "/dev/pmem0", "relative/mnt"},
		{"--dry-run", "--fsdax", "pmem0", "/mnt/pmem"},
		{"--dry-run", "--fs", "btrfs", "--fsdax", "/dev/pmem0", "/mnt/pmem"},
		{"--dry-run", "--devdax", "--emulate", "/tmp/x"},
		{"--dry-run", "--emulate", "/tmp/x", "--mode", "rwx"},
		{"--dry-run", "--bogus"},
	} {
		_, stderr, code := runScript(t, t.TempDir(), nil, "prepare-pmem.sh", args...)
		require.Equal(t, 2, code, "args %q: stderr: %s", args, stderr)
		require.Contains(t, stderr, "Usage", "args %q", args)
	}
}

func TestDeployActionDryRun(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hello.go"), []byte("package main\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kv.zip"), []byte("PK\x03\x04"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"go source", nil, []string{"hello", "hello.go"}, "wsk action update hello hello.go --kind marvel:1"},
		{"zip, create", nil, []string{"--create", "kv", "kv.zip", "--memory", "256"}, "wsk action create kv kv.zip --kind marvel:1 --memory 256"},
		{"other kind", nil, []string{"--kind", "marvel:default", "hello", "hello.go"}, "wsk action update hello hello.go --kind marvel:default"},
		{"blackbox", nil, []string{"--docker", "marvel/marvel-counter:latest", "counter"}, "wsk action update counter --docker marvel/marvel-counter:latest"},
		{"blackbox with code", nil, []string{"--docker", wantRuntimeImage, "kv", "kv.zip"}, "wsk action update kv kv.zip --docker " + wantRuntimeImage},
		{"params and extra args", nil, []string{"--param", "greeting", "hi there", "hello", "hello.go", "--", "--web", "true"},
			`wsk action update hello hello.go --kind marvel:1 --param greeting hi\ there --web true`},
		{"environment", []string{"WSK=/opt/bin/wsk", "WHISK_APIHOST=https://ow.example:443", "WHISK_AUTH=uuid:s3cret"},
			[]string{"--insecure", "hello", "hello.go"},
			`/opt/bin/wsk action update hello hello.go --kind marvel:1 --apihost https://ow.example:443 --auth "$WHISK_AUTH" -i`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runScript(t, dir, tc.env, "deploy-action.sh", append([]string{"--dry-run"}, tc.args...)...)
			require.Zero(t, code, "stderr: %s", stderr)
			require.Equal(t, []string{tc.want}, commands(stdout))
			require.NotContains(t, stdout+stderr, "s3cret", "the auth key is never printed")
			if slices.Contains(tc.args, "--docker") {
				require.NotContains(t, stdout, "--kind")
			}
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no name", nil, 2},
		{"no file", []string{"hello"}, 2},
		{"missing file", []string{"hello", "nope.go"}, 1},
		{"not go or zip", []string{"hello", "notes.txt"}, 2},
		{"unknown option", []string{"--bogus", "hello", "hello.go"}, 2},
		{"too many", []string{"hello", "hello.go", "kv.zip"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runScript(t, dir, nil, "deploy-action.sh", append([]string{"--dry-run"}, tc.args...)...)
			require.Equal(t, tc.code, code, "stderr: %s", stderr)
			require.NotEmpty(t, stderr)
		})
	}
}

func TestBuildImageDryRun(t *testing.T) {
	root := repoRoot(t)

	// Defaults: the image runtimes.json names.
	stdout, stderr, code := runScript(t, t.TempDir(), nil, "build-image.sh", "--dry-run")
	require.Zero(t, code, "stderr: %s", stderr)
	cmds := commands(stdout)
	require.Equal(t, "cd "+root, cmds[0], "docker build runs from the repository root")
	rt := indexOf(cmds, "docker build -f deploy/openwhisk/Dockerfile -t "+wantRuntimeImage+" ")
	require.GreaterOrEqual(t, rt, 0, stdout)
	require.True(t, strings.HasSuffix(cmds[rt], " ."), "the context is the repository root: %s", cmds[rt])
	bb := indexOf(cmds, "docker build -f deploy/openwhisk/Dockerfile.blackbox -t marvel/marvel-counter:latest ")
	require.Greater(t, bb, rt, "the blackbox image is built after the runtime image:\n%s", stdout)
	require.Contains(t, cmds[bb], "--build-arg RUNTIME_IMAGE="+wantRuntimeImage)
	require.Contains(t, cmds[bb], "--build-arg ACTION=counter")
	require.True(t, strings.HasSuffix(cmds[bb], " ."), cmds[bb])
	require.Equal(t, -1, indexOf(cmds, "docker push"))

	// Tag, prefix, push, another client, extra docker build arguments.
	stdout, stderr, code = runScript(t, t.TempDir(), []string{"DOCKER=podman"}, "build-image.sh",
		"--dry-run", "--prefix", "registry.example:5000/team", "--tag", "1.2.3", "--action", "kv", "--push", "--", "--no-cache")
	require.Zero(t, code, "stderr: %s", stderr)
	cmds = commands(stdout)
	img := "registry.example:5000/team/action-marvel-v1:1.2.3"
	rt = indexOf(cmds, "podman build -f deploy/openwhisk/Dockerfile -t "+img+" ")
	require.GreaterOrEqual(t, rt, 0, stdout)
	require.Contains(t, cmds[rt], " --no-cache ")
	bb = indexOf(cmds, "podman build -f deploy/openwhisk/Dockerfile.blackbox -t registry.example:5000/team/marvel-kv:1.2.3 ")
	require.GreaterOrEqual(t, bb, 0, stdout)
	require.Contains(t, cmds[bb], "--build-arg RUNTIME_IMAGE="+img)
	require.Contains(t, cmds, "podman push "+img)
	require.Contains(t, cmds, "podman push registry.example:5000/team/marvel-kv:1.2.3")

	// Runtime image only.
	stdout, _, code = runScript(t, t.TempDir(), nil, "build-image.sh", "--dry-run", "--no-blackbox")
	require.Zero(t, code)
	require.NotContains(t, stdout, "Dockerfile.blackbox")

	_, stderr, code = runScript(t, t.TempDir(), nil, "build-image.sh", "--dry-run", "--tag", "bad tag")
	require.Equal(t, 2, code, stderr)
}

// ---------------------------------------------------------------------------
// The docs page names every file it explains.

func TestDocsMentionEveryFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "openwhisk.md"))
	require.NoError(t, err)
	doc := string(b)
	for _, f := range append([]string{
		"deploy/openwhisk/Dockerfile", "deploy/openwhisk/Dockerfile.blackbox",
		"deploy/openwhisk/runtimes.json", "deploy/openwhisk/runtimes-entry.json",
		"deploy/openwhisk/invoker-pmem.conf", "deploy/openwhisk/invoker-pmem.env",
		"MARVEL_DATA", "MARVEL_PMEM", "MARVEL_SDK_DIR", "MARVEL_BUILTIN", "OW_WAIT_FOR_ACK",
		"--kind marvel:1", "RUNTIMES_MANIFEST", "runtimes_manifest", "extra-args",
	}, prefixAll("scripts/openwhisk/", scripts)...) {
		require.Contains(t, doc, f, "docs/openwhisk.md does not mention %s", f)
	}
}

func prefixAll(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

// mergeFilter is the jq filter docs/openwhisk.md gives for merging the marvel
// entry into an existing manifest.
const mergeFilter = `.runtimes += $m[0] | .blackboxes = ((.blackboxes // []) + $f[0].blackboxes | unique)`

// upstreamManifest is a manifest like OpenWhisk's ansible/files/runtimes.json.
const upstreamManifest = `{
  "description": ["an existing manifest"],
  "runtimes": {
    "nodejs": [{"kind": "nodejs:14", "default": true, "deprecated": false,
      "image": {"prefix": "openwhisk", "name": "action-nodejs-v14", "tag": "nightly"},
      "attached": {"attachmentName": "codefile", "attachmentType": "text/plain"},
      "stemCells": [{"initialCount": 2, "memory": "256 MB"}]}]
  },
  "blackboxes": [{"prefix": "openwhisk", "name": "dockerskeleton", "tag": "nightly"}]
}`

func TestDocsMergeRecipe(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "openwhisk.md"))
	require.NoError(t, err)
	require.Contains(t, string(doc), "'"+mergeFilter+"'", "the docs' jq filter changed: update mergeFilter")
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq is not installed")
	}
	dir := t.TempDir()
	up := filepath.Join(dir, "runtimes.json")
	require.NoError(t, os.WriteFile(up, []byte(upstreamManifest), 0o644))
	out, err := exec.Command("jq", "--slurpfile", "m", "runtimes-entry.json", "--slurpfile", "f", "runtimes.json",
		mergeFilter, up).Output()
	require.NoError(t, err)
	merged := filepath.Join(dir, "merged.json")
	require.NoError(t, os.WriteFile(merged, out, 0o644))

	var mf manifest
	decodeStrict(t, merged, &mf)
	require.Len(t, mf.Runtimes, 2, "nodejs kept, marvel added")
	for family, versions := range mf.Runtimes {
		checkFamily(t, family, versions)
	}
	checkMarvelEntry(t, mf.Runtimes["marvel"])
	var refs []string
	for _, b := range mf.Blackboxes {
		refs = append(refs, b.String())
	}
	require.ElementsMatch(t, []string{"openwhisk/dockerskeleton:nightly", wantRuntimeImage}, refs)
}
