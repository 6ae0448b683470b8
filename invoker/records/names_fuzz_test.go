package records

import (
	"testing"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// FuzzEscapeName: action and namespace names come from API paths and
// choose the files of the action records. A valid name escapes to one
// file-name component that is never "." or "..", holds no "/" or NUL, and
// fits the 255-byte limit with its extension; two different valid names
// escape apart (up to the digest of over-long names). Activation ids are
// parsed without panicking, and only 32 lower-case hex digits parse.
//
//	go test -run '^$' -fuzz '^FuzzEscapeName$' ./invoker/records
func FuzzEscapeName(f *testing.F) {
	for _, s := range [][2]string{
		{"counter", "Counter"}, {".", ".."}, {"...", "%2e%2e"}, {"a b", "a%20b"}, {"-dash", "_u"},
		{"x@y", "X@Y"}, {"a/b", "../etc"}, {"0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		parseID(a)
		if _, err := parseID(b); err == nil && len(b) != 32 {
			t.Fatalf("parseID(%q) accepted", b)
		}
		esc := func(n string) (string, bool) {
			if whisk.ValidName(n) != nil {
				return "", false
			}
			e := escapeName(n)
			if e == "" || e == "." || e == ".." || len(e) > maxEscaped || len(e+actionExt) > 255 {
				t.Fatalf("escapeName(%q) = %q", n, e)
			}
			for i := 0; i < len(e); i++ {
				if e[i] == '/' || e[i] == 0 || e[i] == '\\' {
					t.Fatalf("escapeName(%q) = %q", n, e)
				}
			}
			return e, true
		}
		ea, okA := esc(a)
		eb, okB := esc(b)
		if okA && okB && a != b && ea == eb && len(ea) < 160 {
			t.Fatalf("escapeName(%q) = escapeName(%q) = %q", a, b, ea)
		}
	})
}
