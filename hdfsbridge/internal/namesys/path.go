package namesys

import (
	"strings"
)

// Bounds on paths, as HDFS's defaults (dfs.namenode.fs-limits.*).
const (
	MaxPathLen      = 8000
	MaxComponentLen = 255
)

// reservedPrefix starts the names the bridge keeps for itself in the tree
// (temporaries, the trash). They are invisible to HDFS and cannot be created.
const reservedPrefix = ".marvel-"

// Path is a checked absolute HDFS path.
type Path struct {
	s     string   // "/" or "/a/b"
	comps []string // ["a", "b"]; empty for the root
}

// ParsePath checks an absolute HDFS path: it begins with "/", has no empty
// (except a trailing slash), "." or ".." component, no ':' or NUL, and stays
// within HDFS's length bounds.
func ParsePath(s string) (Path, error) {
	if s == "" || s[0] != '/' {
		return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: the path must be absolute (start with /)", s)
	}
	if len(s) > MaxPathLen {
		return Path{}, newErr(ClassInvalidPath, "Invalid path name: the path is %d bytes long, the limit is %d", len(s), MaxPathLen)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: it contains a NUL byte", s)
	}
	t := strings.TrimSuffix(s, "/")
	if t == "" {
		return Path{s: "/"}, nil
	}
	comps := strings.Split(t[1:], "/")
	for _, c := range comps {
		switch {
		case c == "":
			return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: it has an empty component (//)", s)
		case c == "." || c == "..":
			return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: %q is not a valid component", s, c)
		case strings.IndexByte(c, ':') >= 0:
			return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: %q contains ':'", s, c)
		case len(c) > MaxComponentLen:
			return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: a component is %d bytes long, the limit is %d", s, len(c), MaxComponentLen)
		case strings.HasPrefix(c, reservedPrefix):
			return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: names beginning %q are reserved for the bridge", s, reservedPrefix)
		case hidden(c):
			return Path{}, newErr(ClassInvalidPath, "Invalid path name %q: %q has the form .NAME.tmp-HEX, reserved for the temporaries of files actions are writing; choose another name", s, c)
		}
	}
	return Path{s: t, comps: comps}, nil
}

// String is the path, "/" for the root.
func (p Path) String() string { return p.s }

// IsRoot reports whether p is "/".
func (p Path) IsRoot() bool { return len(p.comps) == 0 }

// Name is the last component ("" for the root).
func (p Path) Name() string {
	if p.IsRoot() {
		return ""
	}
	return p.comps[len(p.comps)-1]
}

// Parent is the path of the parent directory (the root's parent is the root).
func (p Path) Parent() Path {
	if len(p.comps) <= 1 {
		return Path{s: "/"}
	}
	c := p.comps[:len(p.comps)-1]
	return Path{s: "/" + strings.Join(c, "/"), comps: c}
}

// Child is p/name; name must be a valid component.
func (p Path) Child(name string) Path {
	c := append(append([]string(nil), p.comps...), name)
	if p.IsRoot() {
		return Path{s: "/" + name, comps: c}
	}
	return Path{s: p.s + "/" + name, comps: c}
}

// rebase is p, which lies within from, moved to lie within to instead.
func (p Path) rebase(from, to Path) Path {
	out := to
	for _, c := range p.comps[len(from.comps):] {
		out = out.Child(c)
	}
	return out
}

// rel is p relative to the tree's root, "." for the root.
func (p Path) rel() string {
	if p.IsRoot() {
		return "."
	}
	return p.s[1:]
}

// Within reports whether p is q or lies under q.
func (p Path) Within(q Path) bool {
	if q.IsRoot() {
		return true
	}
	return p.s == q.s || strings.HasPrefix(p.s, q.s+"/")
}

// hidden reports names HDFS never sees: the bridge's own (".marvel-…") and
// the temporaries of pmem.CreateFile (".NAME.tmp-HEX"), which become real
// files only when renamed.
func hidden(name string) bool {
	if strings.HasPrefix(name, reservedPrefix) {
		return true
	}
	if name[0] == '.' {
		if i := strings.LastIndex(name, ".tmp-"); i > 0 {
			hex := name[i+len(".tmp-"):]
			if len(hex) >= 8 && strings.Trim(hex, "0123456789abcdef") == "" {
				return true
			}
		}
	}
	return false
}
