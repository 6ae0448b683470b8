package archive

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
)

// zipFlagEncrypted is bit 0 of the general purpose flags: archive/zip cannot
// decrypt, so such an entry would only fail its checksum.
const zipFlagEncrypted = 0x1

// unpackZip extracts a zip archive held in payload. archive/zip reads the
// central directory (memory proportional to the payload, which is already in
// memory); entry data is streamed through x.copy.
func unpackZip(x *extractor, payload []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(payload), int64(len(payload)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// ErrInsecurePath comes with a usable reader (GODEBUG
		// zipinsecurepath=0); cleanName then names the bad entry.
		return fmt.Errorf("%w: reading the zip directory: %w; rebuild the archive and check that it was not truncated", ErrCorrupt, err)
	}
	if len(zr.File) > x.lim.MaxFiles {
		x.entries = x.lim.MaxFiles
		return x.countEntry(zr.File[x.lim.MaxFiles].Name)
	}
	for _, f := range zr.File {
		if err := x.countEntry(f.Name); err != nil {
			return err
		}
		if err := unpackZipEntry(x, f); err != nil {
			return err
		}
	}
	return nil
}

func unpackZipEntry(x *extractor, f *zip.File) error {
	// Check the name before the type so every refusal of a bad path is
	// ErrUnsafePath whatever the entry is.
	if _, err := cleanName(f.Name, x.lim); err != nil {
		return err
	}
	mode := f.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return &entryError{entry: f.Name, sentinel: ErrLinkEntry, reason: "is a symbolic link",
			hint: "replace the link with the file it points to (zip -y stores links; leave it out)"}
	case mode&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
		return &entryError{entry: f.Name, sentinel: ErrUnsupportedEntry,
			reason: fmt.Sprintf("is a %s, not a regular file or directory", typeName(mode)),
			hint:   "leave it out of the archive"}
	case mode.IsDir():
		return x.dir(f.Name)
	case f.Flags&zipFlagEncrypted != 0:
		return &entryError{entry: f.Name, sentinel: ErrUnsupportedEntry, reason: "is encrypted",
			hint: "rebuild the archive without a password"}
	}
	rc, err := f.Open()
	if err != nil {
		if errors.Is(err, zip.ErrAlgorithm) {
			return &entryError{entry: f.Name, sentinel: ErrUnsupportedEntry,
				reason: fmt.Sprintf("uses compression method %d", f.Method), cause: err,
				hint: "rebuild the archive with deflate or store"}
		}
		return readError(f.Name, err)
	}
	defer rc.Close()
	declared := int64(math.MaxInt64)
	if f.UncompressedSize64 < math.MaxInt64 {
		declared = int64(f.UncompressedSize64)
	}
	return x.file(f.Name, declared, mode.Perm()&0o111 != 0, rc)
}

// typeName names the file type in mode for a message.
func typeName(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "block device"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}
