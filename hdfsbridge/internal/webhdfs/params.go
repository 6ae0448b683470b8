package webhdfs

import (
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
)

// Bounds on the query string.
const (
	maxQueryBytes = 128 << 10 // the whole raw query
	maxParams     = 64        // values, all names together
	maxNameBytes  = 64        // one parameter name
	maxValueBytes = 1024      // one value, unless valueLimits says otherwise
)

// valueLimits bound the values that may be longer than maxValueBytes.
var valueLimits = map[string]int{
	"destination": namesys.MaxPathLen,
	"startafter":  namesys.MaxPathLen,
	"xattr.value": 2*namesys.MaxXAttrSize + 2, // "0x" and two hex digits a byte
}

// multiValued parameters may repeat; any other may appear once.
var multiValued = map[string]bool{"xattr.name": true}

// userPattern is Hadoop's default dfs.webhdfs.user.provider.user.pattern,
// applied to user.name and doas.
var userPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*[$]?$`)

const maxUserBytes = 256

// query is a request's parameters, names in lower case (Hadoop's ParamFilter
// lower-cases them, so "startAfter" and "startafter" are one parameter).
type query map[string][]string

func parseQuery(raw string) (query, error) {
	if len(raw) > maxQueryBytes {
		return nil, errf(classIllegalArgument, "the query string is %d bytes long; the limit is %d", len(raw), maxQueryBytes)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errf(classIllegalArgument, "the query string is malformed: %v", err)
	}
	q := query{}
	n := 0
	for name, vs := range vals {
		if len(name) > maxNameBytes {
			return nil, errf(classIllegalArgument, "a query parameter name is %d bytes long; the limit is %d", len(name), maxNameBytes)
		}
		key := asciiLower(name)
		limit := maxValueBytes
		if l, ok := valueLimits[key]; ok {
			limit = l
		}
		for _, v := range vs {
			if len(v) > limit {
				return nil, errf(classIllegalArgument, "Invalid value for webhdfs parameter %q: the value is %d bytes long; the limit is %d", key, len(v), limit)
			}
		}
		n += len(vs)
		q[key] = append(q[key], vs...)
	}
	if n > maxParams {
		return nil, errf(classIllegalArgument, "the query has %d parameters; the limit is %d", n, maxParams)
	}
	for key, vs := range q {
		if len(vs) > 1 && !multiValued[key] {
			return nil, errf(classIllegalArgument, "webhdfs parameter %q is given %d times; give it once", key, len(vs))
		}
	}
	return q, nil
}

// get is the value of a single-valued parameter, "" when absent.
func (q query) get(name string) string {
	if vs := q[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// quoteForMessage quotes a value for an error message, shortened.
func quoteForMessage(v string) string {
	if len(v) > 80 {
		v = v[:80] + "…"
	}
	return strconv.Quote(v)
}

func badValue(name, v, why string) error {
	return errf(classIllegalArgument, "Invalid value for webhdfs parameter %q: %s %s", name, quoteForMessage(v), why)
}

// boolean parses "true" or "false" (any case); absent is def. An empty value
// is refused, so that "&recursive" alone is not silently false.
func (q query) boolean(name string, def bool) (bool, error) {
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	switch asciiLower(vs[0]) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badValue(name, vs[0], "is not a boolean: give true or false")
}

// integer parses a decimal integer in [lo, hi]: digits only, with a leading
// '-' when lo is negative; no '+', spaces, or other bases. Absent is def.
func (q query) integer(name string, def, lo, hi int64) (int64, error) {
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	v := vs[0]
	digits := v
	if lo < 0 && strings.HasPrefix(v, "-") {
		digits = v[1:]
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, badValue(name, v, "is not a decimal integer")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badValue(name, v, "is out of range: it must be between "+strconv.FormatInt(lo, 10)+" and "+strconv.FormatInt(hi, 10))
	}
	return n, nil
}

// required is integer for a parameter that must be given.
func (q query) required(name string, lo, hi int64) (int64, error) {
	if _, ok := q[name]; !ok {
		return 0, errf(classIllegalArgument, "webhdfs parameter %q is required", name)
	}
	return q.integer(name, 0, lo, hi)
}

// permission parses an octal permission, 0 to 1777 (npm's "0755" included).
func (q query) permission(def uint32) (uint32, error) {
	vs, ok := q["permission"]
	if !ok {
		return def, nil
	}
	v := vs[0]
	if v == "" || len(v) > 5 || strings.Trim(v, "01234567") != "" {
		return 0, badValue("permission", v, "is not an octal permission such as 644 or 1777")
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o1777 {
		return 0, badValue("permission", v, "is out of range: it must be between 0 and 1777 (octal)")
	}
	return uint32(n), nil
}

// path parses a path-valued parameter (destination).
func (q query) path(name string) (namesys.Path, error) {
	v, ok := q[name]
	if !ok || v[0] == "" {
		return namesys.Path{}, errf(classIllegalArgument, "webhdfs parameter %q is required", name)
	}
	p, err := namesys.ParsePath(v[0])
	if err != nil {
		return namesys.Path{}, errf(classIllegalArgument, "Invalid value for webhdfs parameter %q: %v", name, err)
	}
	return p, nil
}

// principal parses a user or group name given to SETOWNER: anything but
// control characters, bounded.
func (q query) principal(name string) (string, error) {
	v := q.get(name)
	if len(v) > maxUserBytes {
		return "", badValue(name, v, "is too long")
	}
	for _, c := range []byte(v) {
		if c < 0x20 || c == 0x7f {
			return "", badValue(name, v, "contains a control character")
		}
	}
	return v, nil
}

// user is the caller's name: user.name, "dr.who" (Hadoop's static
// anonymous user) when absent or empty.
func (q query) user() (string, error) { return q.userAs("") }

// userAs is user for a connection whose peer may act only as bound ("" when
// it may claim anyone): an absent user.name stands for bound, and a
// user.name or doas naming anyone else is refused (AuthorizationException).
func (q query) userAs(bound string) (string, error) {
	name := q.get("user.name")
	switch {
	case name == "" && bound != "":
		name = bound // the namespace's name, which need not match the pattern
	case name == "":
		name = anonymousUser
		fallthrough
	default:
		if len(name) > maxUserBytes || !userPattern.MatchString(name) {
			return "", errf(classIllegalArgument, "Invalid value: \"user.name\" = %s does not belong to the domain %s", quoteForMessage(name), userPattern)
		}
	}
	if bound != "" && name != bound {
		return "", errf(classAuthorization, "User: %s is not allowed to act as %s: this connection's peer may act only as %s", bound, quoteForMessage(name), bound)
	}
	if doas := q.get("doas"); doas != "" && doas != name {
		return "", errf(classAuthorization, "User: %s is not allowed to impersonate %s", name, quoteForMessage(doas))
	}
	return name, nil
}

const anonymousUser = "dr.who"

// Bounds of integer parameters.
const (
	maxInt64 = math.MaxInt64
	// maxTimeMs keeps a time in milliseconds convertible to nanoseconds.
	maxTimeMs = math.MaxInt64 / 1_000_000
)
