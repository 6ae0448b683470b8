package archive

import (
	"fmt"
	"path"
	"strings"
)

// maxComponentBytes is NAME_MAX on Linux: no file name component may be
// longer, so a longer one is refused up front rather than failing in open.
const maxComponentBytes = 255

// rootName is what cleanName returns for "." and "./": the action directory.
const rootName = "."

// hintRelative is the advice for every path refusal.
const hintRelative = "rebuild the archive with relative paths inside it"

// cleanName checks an entry name against the path rules and returns it
// cleaned: slash-separated, relative, no "." or empty components, no trailing
// slash. It returns rootName for "./" (tar archives made with "-C dir ." start
// with it). The checks run on the raw name, before cleaning, so that nothing
// cleaning would hide (a "..", say) goes unseen.
func cleanName(name string, lim Limits) (string, error) {
	unsafe := func(reason, hint string) error {
		return &entryError{entry: name, sentinel: ErrUnsafePath, reason: reason, hint: hint}
	}
	switch {
	case name == "":
		return "", unsafe("has an empty name", "rebuild the archive; every entry needs a name")
	case len(name) > lim.MaxNameBytes:
		return "", unsafe(fmt.Sprintf("has a %d-byte name, over the limit of %d bytes (MaxNameBytes)", len(name), lim.MaxNameBytes), "shorten the path")
	case strings.IndexByte(name, 0) >= 0:
		return "", unsafe("contains a NUL byte", hintRelative)
	case strings.IndexByte(name, '\\') >= 0:
		return "", unsafe("contains a backslash, which could escape the action directory on some systems (zip-slip)", "rebuild the archive with forward slashes and relative paths inside it")
	case name[0] == '/':
		return "", unsafe("is an absolute path, which escapes the action directory (zip-slip)", hintRelative)
	}
	depth := 0
	for comp := range strings.SplitSeq(name, "/") {
		switch comp {
		case "..":
			return "", unsafe("escapes the action directory (zip-slip)", hintRelative)
		case "", ".":
			continue
		}
		if len(comp) > maxComponentBytes {
			return "", unsafe(fmt.Sprintf("has a %d-byte path component, over the limit of %d bytes", len(comp), maxComponentBytes), "shorten the file name")
		}
		depth++
	}
	if depth > lim.MaxDepth {
		return "", unsafe(fmt.Sprintf("is %d directories deep, over the limit of %d (MaxDepth)", depth, lim.MaxDepth), "flatten the directory tree")
	}
	return path.Clean(name), nil
}
