package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Kind is what a payload turned out to be.
type Kind int

const (
	// KindExecutable is a single file starting with ELF magic "\x7fELF" or
	// "#!"; Unpack writes it to dir/exec with mode 0755.
	KindExecutable Kind = iota + 1
	// KindSource is a single file that is neither an archive nor an
	// executable (Go source, say); Unpack also writes it to dir/exec with
	// mode 0755 and the caller compiles it.
	KindSource
	// KindZip is a zip archive ("PK\x03\x04", or "PK\x05\x06" for an empty
	// one).
	KindZip
	// KindTarGz is a gzip stream (0x1f 0x8b) holding a tar archive.
	KindTarGz
)

// String returns "executable", "source", "zip" or "tar.gz".
func (k Kind) String() string {
	switch k {
	case KindExecutable:
		return "executable"
	case KindSource:
		return "source"
	case KindZip:
		return "zip"
	case KindTarGz:
		return "tar.gz"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

var (
	magicZip      = []byte("PK\x03\x04")
	magicZipEmpty = []byte("PK\x05\x06")
	magicGzip     = []byte{0x1f, 0x8b}
	magicELF      = []byte("\x7fELF")
	magicShebang  = []byte("#!")
)

// Detect classifies a payload by its first bytes only. Anything that is not
// an archive or an executable is KindSource, including an empty payload
// (which Unpack refuses).
func Detect(payload []byte) Kind {
	switch {
	case bytes.HasPrefix(payload, magicZip), bytes.HasPrefix(payload, magicZipEmpty):
		return KindZip
	case bytes.HasPrefix(payload, magicGzip):
		return KindTarGz
	case isExecutable(payload):
		return KindExecutable
	}
	return KindSource
}

func isExecutable(head []byte) bool {
	return bytes.HasPrefix(head, magicELF) || bytes.HasPrefix(head, magicShebang)
}

// IsExecutable reports whether the file at path starts with ELF magic or "#!".
// A path that is not a regular file (a directory, a FIFO) is an error wrapping
// ErrInvalid.
func IsExecutable(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNonBlock, 0)
	if err != nil {
		return false, fmt.Errorf("archive: open %q: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("archive: stat %q: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("%w: %q is a %v, not a regular file", ErrInvalid, path, fi.Mode().Type())
	}
	head := make([]byte, len(magicELF))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, fmt.Errorf("archive: read %q: %w", path, err)
	}
	return isExecutable(head[:n]), nil
}
