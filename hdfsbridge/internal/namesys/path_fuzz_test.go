package namesys

import (
	"strings"
	"testing"
)

// FuzzParsePath: every HDFS path a client sends (RPC src/dst, WebHDFS path
// and "destination") goes through ParsePath. An accepted path is absolute,
// within MaxPathLen, has no empty, ".", ".." or reserved component and no
// NUL or ':', and parses again to itself; nothing panics.
//
//	go test -run '^$' -fuzz '^FuzzParsePath$' ./hdfsbridge/internal/namesys
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/", "/guest", "/guest/job1/part-00003", "/guest/", "//", "/a/../b", "/..", "/.", "/a/./b",
		"guest", "", "/a\x00b", "/a:b", "/.marvel-trash", "/.marvel-tmp-1", "/a/.x.tmp-0123abcd",
		"/" + strings.Repeat("a", 256), "/" + strings.Repeat("a/", 4001), "/\xff\xfe", "/a\\..\\b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			if ClassOf(err) != ClassInvalidPath {
				t.Fatalf("ParsePath(%q): %v of class %q, want %q", s, err, ClassOf(err), ClassInvalidPath)
			}
			return
		}
		out := p.String()
		if !strings.HasPrefix(out, "/") || len(out) > MaxPathLen || strings.IndexByte(out, 0) >= 0 {
			t.Fatalf("ParsePath(%q) = %q", s, out)
		}
		if !p.IsRoot() {
			for _, c := range strings.Split(out[1:], "/") {
				if c == "" || c == "." || c == ".." || strings.ContainsRune(c, ':') || len(c) > MaxComponentLen || strings.HasPrefix(c, reservedPrefix) {
					t.Fatalf("ParsePath(%q) = %q: component %q", s, out, c)
				}
			}
			if p.Name() == "" || p.Parent().String() == out {
				t.Fatalf("ParsePath(%q): name %q, parent %q", s, p.Name(), p.Parent())
			}
		}
		q, err := ParsePath(out)
		if err != nil || q.String() != out {
			t.Fatalf("ParsePath(%q) = %q, which parses to %q, %v", s, out, q.String(), err)
		}
	})
}

// FuzzDecodeAttrs: the user.marvel.hdfs attribute is read back from inodes
// that actions own and may set themselves (setfattr on their own files), so
// it is outside input: decoding never panics, and what decodes encodes
// back within the attribute's bound.
//
//	go test -run '^$' -fuzz '^FuzzDecodeAttrs$' ./hdfsbridge/internal/namesys
func FuzzDecodeAttrs(f *testing.F) {
	f.Add(encodeAttrs(attrs{Owner: "guest", Group: "guest", GenStamp: 1001, BlockSize: 128 << 20, Birth: 1001}))
	f.Add(encodeAttrs(attrs{Owner: "root", Holder: "DFSClient_1"}))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"o":"root","g":"supergroup","gs":-1,"bs":-5}`))
	f.Add([]byte(`{"o":5}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"gs":18446744073709551615,"bs":9223372036854775807,"b":18446744073709551615}`))
	f.Add([]byte("\xff\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxAttrBytes {
			return // the kernel's getxattr answers ERANGE for these
		}
		a, ok, err := decodeAttrs(b, nil)
		if err != nil {
			if ok {
				t.Fatalf("decodeAttrs(%q): ok with error %v", b, err)
			}
			return
		}
		if !ok {
			t.Fatalf("decodeAttrs(%q): no error, not ok", b)
		}
		if enc := encodeAttrs(a); len(enc) > 2*maxAttrBytes+64 {
			t.Fatalf("decodeAttrs(%q) re-encodes to %d bytes", b, len(enc))
		}
	})
}
