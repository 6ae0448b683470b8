package archive

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error Unpack returns for a refused or damaged payload
// wraps exactly one of these (test with errors.Is); the message names the
// entry, the rule it broke and what to do about it.
var (
	// ErrInvalid: bad arguments — invalid Limits, an empty payload, a
	// target directory that is missing or not empty.
	ErrInvalid = errors.New("archive: invalid argument")
	// ErrUnsafePath: an entry name that is absolute, climbs out with "..",
	// holds a backslash or NUL, is empty, too long or too deep.
	ErrUnsafePath = errors.New("archive: unsafe entry path")
	// ErrLinkEntry: a symbolic or hard link entry.
	ErrLinkEntry = errors.New("archive: link entry refused")
	// ErrUnsupportedEntry: a device, FIFO or socket entry, an encrypted zip
	// entry, an unknown compression method or tar entry type.
	ErrUnsupportedEntry = errors.New("archive: unsupported entry")
	// ErrDuplicateEntry: the same path twice, or a file where a directory is
	// needed.
	ErrDuplicateEntry = errors.New("archive: duplicate entry")
	// ErrTooLarge: an entry or the whole archive decompresses to more bytes
	// than Limits allow.
	ErrTooLarge = errors.New("archive: too large")
	// ErrTooManyFiles: more entries, files or directories than
	// Limits.MaxFiles.
	ErrTooManyFiles = errors.New("archive: too many files")
	// ErrCorrupt: a zip directory, gzip stream or tar header that cannot be
	// read, a checksum mismatch or a truncated entry.
	ErrCorrupt = errors.New("archive: corrupt archive")
)

// maxQuotedName bounds how much of an entry name goes into an error message.
const maxQuotedName = 128

// entryError is a refusal of one archive entry. Its text reads
//
//	archive: entry "NAME" REASON[: CAUSE]; HINT
//
// and it unwraps to its sentinel (and to the underlying cause, if any).
type entryError struct {
	entry    string // entry name as it appears in the archive
	sentinel error  // one of the Err* values above
	reason   string // which rule, e.g. "escapes the action directory (zip-slip)"
	cause    error  // optional error from archive/zip, archive/tar, compress/gzip
	hint     string // what to do, e.g. "rebuild the archive with relative paths"
}

func (e *entryError) Error() string {
	s := "archive: entry " + quoteName(e.entry) + " " + e.reason
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	if e.hint != "" {
		s += "; " + e.hint
	}
	return s
}

func (e *entryError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.cause}
}

// quoteName quotes an entry name for a message, shortening very long names.
func quoteName(name string) string {
	if len(name) <= maxQuotedName {
		return strconv.Quote(name)
	}
	return strconv.Quote(name[:maxQuotedName]) + "..."
}
