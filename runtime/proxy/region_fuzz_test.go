package proxy

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/marvel-serverless/marvel/pmem"
)

// FuzzIdentity: the namespace and action name of a /run (and the __OW_*
// of an /init env) choose the region file and the files directory an
// action gets. Whatever they hold, an accepted identity's region name is a
// valid region name (one path component, no "/" or ".."), its files
// directory is a direct child of DATA/fs, and two different identities
// never share a region (up to the digest of over-long names).
//
//	go test -run '^$' -fuzz '^FuzzIdentity$' ./runtime/proxy
func FuzzIdentity(f *testing.F) {
	for _, s := range [][4]string{
		{"guest", "/guest/counter", "other", "/guest/counter"},
		{"guest", "/guest/pkg/counter", "guest", "/guest/pkg+counter"},
		{"..", "/../..", ".", "/./x"},
		{"a=2F", "/a=2F/b", "a/", "/a//b"},
		{"ns", "/ns/" + strings.Repeat("x", 300), "ns", "/ns/" + strings.Repeat("x", 299) + "y"},
		{"gu\x00est", "/guest/a\nb", "GUEST", "/GUEST/A"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	const data = "/data"
	f.Fuzz(func(t *testing.T, ns1, act1, ns2, act2 string) {
		check := func(ns, act string) (Identity, bool) {
			id, err := NewIdentity(ns, act)
			if err != nil {
				return id, false
			}
			name := id.RegionName()
			if err := pmem.ValidName(name); err != nil {
				t.Fatalf("%v: region name %q: %v", id, name, err)
			}
			if p, err := pmem.RegionPath(data, name); err != nil || filepath.Dir(p) != data {
				t.Fatalf("%v: region path %q, %v", id, p, err)
			}
			if d := id.FilesDir(data); filepath.Dir(d) != filepath.Join(data, "fs") || filepath.Base(d) == ".." || filepath.Base(d) == "." {
				t.Fatalf("%v: files directory %q", id, d)
			}
			return id, true
		}
		a, okA := check(ns1, act1)
		b, okB := check(ns2, act2)
		if okA && okB && a != b && a.RegionName() == b.RegionName() && len(a.RegionName()) < pmem.MaxNameLen-2*16 {
			t.Fatalf("%v and %v share region %q", a, b, a.RegionName())
		}
		if okA && okB && a.Namespace != b.Namespace && a.FilesDir(data) == b.FilesDir(data) {
			t.Fatalf("namespaces %q and %q share files directory %q", a.Namespace, b.Namespace, a.FilesDir(data))
		}
	})
}
