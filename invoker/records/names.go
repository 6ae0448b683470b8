package records

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// maxEscaped bounds an escaped name, leaving room for an extension within
// the usual 255-byte limit on a file name.
const maxEscaped = 200

// escapeName maps an entity name to a file name: lower-case letters,
// digits, '_', '-', '@' and inner '.' stay; every other byte (upper-case
// letters too, so names differing in case stay apart on case-insensitive
// file systems; a leading '.', so "." and ".." are never names) becomes
// %xx in lower-case hex. An escaped name longer than 200 bytes keeps its
// first 160 bytes, then '~' and 32 hex digits of the name's SHA-256. The
// mapping is one-to-one on the names the store keeps (up to the hash); the
// file itself records the real name.
func escapeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '@', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	s := b.String()
	if len(s) <= maxEscaped {
		return s
	}
	cut := 160
	// Do not split an escape.
	if s[cut-1] == '%' {
		cut--
	} else if s[cut-2] == '%' {
		cut -= 2
	}
	sum := sha256.Sum256([]byte(name))
	return s[:cut] + "~" + hex.EncodeToString(sum[:16])
}

// checkName checks a namespace or action name.
func checkName(what, name string) error {
	if err := whisk.ValidName(name); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
	}
	return nil
}

// parseID decodes an activation id: 32 lower-case hex digits.
func parseID(id string) ([16]byte, error) {
	var k [16]byte
	if len(id) != 32 {
		return k, fmt.Errorf("%w: activation id %q: want 32 lower-case hex digits", ErrInvalid, id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return k, fmt.Errorf("%w: activation id %q: want 32 lower-case hex digits", ErrInvalid, id)
		}
	}
	hex.Decode(k[:], []byte(id))
	return k, nil
}
