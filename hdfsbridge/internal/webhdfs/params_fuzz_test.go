package webhdfs

import (
	"testing"
)

// FuzzParseQuery: a WebHDFS request's raw query is outside input. Parsing
// never panics; an accepted query holds at most maxParams values, names of
// at most maxNameBytes in lower case, values within their limits, and a
// single value for every parameter but the multi-valued ones; reading the
// usual parameters from it never panics either.
//
//	go test -run '^$' -fuzz '^FuzzParseQuery$' ./hdfsbridge/internal/webhdfs
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"op=GETFILESTATUS&user.name=alice",
		"op=LISTSTATUS&user.name=bob&doas=alice",
		"op=CREATE&overwrite=true&blocksize=1048576&replication=1&permission=755&buffersize=4096",
		"op=RENAME&destination=%2Fa%2F..%2Fb",
		"op=SETXATTR&xattr.name=user.a&xattr.value=0x00ff&flag=CREATE",
		"op=GETXATTRS&xattr.name=user.a&xattr.name=user.b&encoding=hex",
		"op=OPEN&offset=-1&length=9223372036854775807",
		"user.name=a&USER.NAME=b", "x=%zz", "&&&=&=", "permission=08888", "modificationtime=-2",
		"op=LISTSTATUS_BATCH&startAfter=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err != nil {
			return
		}
		n := 0
		for name, vs := range q {
			n += len(vs)
			if name != asciiLower(name) || len(name) > maxNameBytes {
				t.Fatalf("parseQuery(%q): parameter name %q", raw, name)
			}
			if len(vs) > 1 && !multiValued[name] {
				t.Fatalf("parseQuery(%q): %q given %d times", raw, name, len(vs))
			}
			limit := maxValueBytes
			if l, ok := valueLimits[name]; ok {
				limit = l
			}
			for _, v := range vs {
				if len(v) > limit {
					t.Fatalf("parseQuery(%q): %q of %d bytes", raw, name, len(v))
				}
			}
		}
		if n > maxParams {
			t.Fatalf("parseQuery(%q): %d values", raw, n)
		}
		q.get("op")
		q.boolean("overwrite", false)
		q.integer("offset", 0, 0, 1<<62)
		q.required("length", 0, 1<<62)
		q.permission(0o644)
		q.path("destination")
		q.principal("owner")
		if u, err := q.user(); err == nil && (u == "" || len(u) > maxUserBytes) {
			t.Fatalf("parseQuery(%q): user %q", raw, u)
		}
	})
}
