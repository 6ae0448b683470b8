package shuffle

import (
	"fmt"
	"strings"
)

// MaxKeyLen bounds a key's length in bytes.
const MaxKeyLen = 512

// MaxComponentLen bounds one component of a key: the file stores keep it as
// a file name (at most 255 bytes on Linux filesystems) and their temporary
// files add up to 18 bytes to it.
const MaxComponentLen = 200

// ValidKey reports whether k is a key: "/"-separated components of
// [A-Za-z0-9._-], none empty or starting with a dot (so "." and ".." are
// out, and no key names a file store's hidden temporary files) or longer
// than MaxComponentLen, at most MaxKeyLen bytes in all. The error wraps ErrInvalidKey and says what is
// wrong.
//
//	job-7/map-3/part-0    valid
//	job-7//part-0         empty component
//	job-7/.tmp            component starts with a dot
func ValidKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(k) > MaxKeyLen:
		return fmt.Errorf("%w: key %.40q... is %d bytes (at most %d)", ErrInvalidKey, k, len(k), MaxKeyLen)
	}
	start := 0
	for i := 0; i <= len(k); i++ {
		if i < len(k) && k[i] != '/' {
			if !keyByte(k[i]) {
				return fmt.Errorf("%w: key %q has byte %q at offset %d (want A-Z a-z 0-9 . _ - and / between components)", ErrInvalidKey, k, k[i], i)
			}
			continue
		}
		c := k[start:i]
		switch {
		case c == "":
			return fmt.Errorf("%w: key %q has an empty component at offset %d", ErrInvalidKey, k, start)
		case c[0] == '.':
			return fmt.Errorf("%w: key %q has component %q starting with a dot", ErrInvalidKey, k, c)
		case len(c) > MaxComponentLen:
			return fmt.Errorf("%w: key %.40q... has a component of %d bytes (at most %d)", ErrInvalidKey, k, len(c), MaxComponentLen)
		}
		start = i + 1
	}
	return nil
}

// validPrefix checks a DeletePrefix argument: a key, or a key followed by
// "/". The empty prefix, which would delete the whole store, is refused.
func validPrefix(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty prefix would delete every key of the store; name a job's prefix", ErrInvalidKey)
	}
	if err := ValidKey(strings.TrimSuffix(p, "/")); err != nil {
		return fmt.Errorf("prefix %q: %w", p, err)
	}
	return nil
}

func keyByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}
