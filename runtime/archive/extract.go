package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Modes of what Unpack creates.
const (
	dirMode  fs.FileMode = 0o755
	execMode fs.FileMode = 0o755
	fileMode fs.FileMode = 0o644
)

// execName is the file the runtime starts (or compiles, for KindSource).
const execName = "exec"

// copyBufferSize is the one buffer an extractor streams every entry through.
const copyBufferSize = 32 << 10

// nodeKind records what the extractor made at a cleaned path.
type nodeKind uint8

const (
	impliedDir  nodeKind = iota + 1 // created as the parent of a later entry
	listedDir                       // a directory entry of the archive
	regularFile                     // a file entry of the archive
)

// extractor writes the entries of one archive below root, enforcing the
// duplicate, count and size rules. It is used by one goroutine.
type extractor struct {
	root    *os.Root
	lim     Limits
	nodes   map[string]nodeKind // cleaned path -> what is there
	entries int                 // archive entries read, for MaxFiles
	total   int64               // uncompressed bytes written, for MaxTotalBytes
	buf     []byte
}

func newExtractor(root *os.Root, lim Limits) *extractor {
	return &extractor{
		root:  root,
		lim:   lim,
		nodes: make(map[string]nodeKind),
		buf:   make([]byte, copyBufferSize),
	}
}

// countEntry counts one archive entry against MaxFiles.
func (x *extractor) countEntry(name string) error {
	x.entries++
	if x.entries > x.lim.MaxFiles {
		return &entryError{entry: name, sentinel: ErrTooManyFiles,
			reason: fmt.Sprintf("is past the limit of %d entries (MaxFiles)", x.lim.MaxFiles),
			hint:   "put fewer files in the archive"}
	}
	return nil
}

// claim records that path will be created, counting it against MaxFiles.
func (x *extractor) claim(name, clean string, k nodeKind) error {
	if len(x.nodes) >= x.lim.MaxFiles {
		return &entryError{entry: name, sentinel: ErrTooManyFiles,
			reason: fmt.Sprintf("would make more than %d files and directories (MaxFiles)", x.lim.MaxFiles),
			hint:   "put fewer files in the archive"}
	}
	x.nodes[clean] = k
	return nil
}

// parents creates the missing parent directories of clean, refusing a parent
// that the archive already made a file.
func (x *extractor) parents(name, clean string) error {
	for i := 0; i < len(clean); i++ {
		if clean[i] != '/' {
			continue
		}
		p := clean[:i]
		switch x.nodes[p] {
		case impliedDir, listedDir:
			continue
		case regularFile:
			return &entryError{entry: name, sentinel: ErrDuplicateEntry,
				reason: fmt.Sprintf("needs %q to be a directory, but the archive has a file there", p),
				hint:   "rebuild the archive without the conflicting entries"}
		}
		if err := x.claim(name, p, impliedDir); err != nil {
			return err
		}
		if err := x.mkdir(p); err != nil {
			return fmt.Errorf("archive: create directory %q for entry %s: %w", p, quoteName(name), err)
		}
	}
	return nil
}

func (x *extractor) mkdir(clean string) error {
	if err := x.root.Mkdir(clean, dirMode); err != nil {
		return err
	}
	// Mkdir's mode is filtered by the umask; the rule is exactly 0755.
	return x.root.Chmod(clean, dirMode)
}

// dir creates a directory entry. A directory the archive implied earlier may
// be listed once; "./" is the action directory itself and is skipped.
func (x *extractor) dir(name string) error {
	clean, err := cleanName(name, x.lim)
	if err != nil {
		return err
	}
	if clean == rootName {
		return nil
	}
	switch x.nodes[clean] {
	case impliedDir:
		x.nodes[clean] = listedDir
		return nil
	case listedDir, regularFile:
		return duplicate(name, clean)
	}
	if err := x.parents(name, clean); err != nil {
		return err
	}
	if err := x.claim(name, clean, listedDir); err != nil {
		return err
	}
	if err := x.mkdir(clean); err != nil {
		return fmt.Errorf("archive: create directory for entry %s: %w", quoteName(name), err)
	}
	return nil
}

func duplicate(name, clean string) error {
	return &entryError{entry: name, sentinel: ErrDuplicateEntry,
		reason: fmt.Sprintf("is a second entry for %q", clean),
		hint:   "rebuild the archive with each path once"}
}

// file creates a regular file entry and streams r into it, counting the bytes
// actually read, never the header's claim. declared is the size the header
// states, or -1; an entry declaring more than a limit is refused before any
// decompression. executable says whether the archive gave it an x bit.
func (x *extractor) file(name string, declared int64, executable bool, r io.Reader) error {
	clean, err := cleanName(name, x.lim)
	if err != nil {
		return err
	}
	if clean == rootName {
		return &entryError{entry: name, sentinel: ErrUnsafePath,
			reason: "is a file named for the action directory itself", hint: hintRelative}
	}
	if _, ok := x.nodes[clean]; ok {
		return duplicate(name, clean)
	}
	if declared > x.lim.MaxFileBytes {
		return x.tooLargeFile(name, fmt.Sprintf("declares %d bytes", declared))
	}
	if declared > x.lim.MaxTotalBytes-x.total {
		return x.tooLargeTotal(name)
	}
	if err := x.parents(name, clean); err != nil {
		return err
	}
	if err := x.claim(name, clean, regularFile); err != nil {
		return err
	}
	mode := fileMode
	if executable || clean == execName {
		mode = execMode
	}
	f, err := x.root.OpenFile(clean, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, mode)
	if err != nil {
		return fmt.Errorf("archive: create file for entry %s: %w", quoteName(name), err)
	}
	err = x.copy(name, f, r)
	if err == nil {
		// The create mode is filtered by the umask; set it exactly.
		if cerr := f.Chmod(mode); cerr != nil {
			err = fmt.Errorf("archive: chmod entry %s: %w", quoteName(name), cerr)
		}
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("archive: close entry %s: %w", quoteName(name), cerr)
	}
	return err
}

// copy streams r to w one buffer at a time and stops as soon as the entry or
// the archive passes its limit, so memory stays at one buffer however much
// the entry would decompress to.
func (x *extractor) copy(name string, w io.Writer, r io.Reader) error {
	var n int64
	for {
		nr, rerr := r.Read(x.buf)
		if nr > 0 {
			n += int64(nr)
			x.total += int64(nr)
			if n > x.lim.MaxFileBytes {
				return x.tooLargeFile(name, fmt.Sprintf("decompresses to more than %d bytes", x.lim.MaxFileBytes))
			}
			if x.total > x.lim.MaxTotalBytes {
				return x.tooLargeTotal(name)
			}
			if _, werr := w.Write(x.buf[:nr]); werr != nil {
				return fmt.Errorf("archive: write entry %s: %w", quoteName(name), werr)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return readError(name, rerr)
		}
	}
}

func (x *extractor) tooLargeFile(name, what string) error {
	return &entryError{entry: name, sentinel: ErrTooLarge,
		reason: fmt.Sprintf("%s, over the limit of %d bytes for one file (MaxFileBytes)", what, x.lim.MaxFileBytes),
		hint:   "make the file smaller or raise the limit"}
}

func (x *extractor) tooLargeTotal(name string) error {
	return &entryError{entry: name, sentinel: ErrTooLarge,
		reason: fmt.Sprintf("takes the archive past the limit of %d uncompressed bytes (MaxTotalBytes)", x.lim.MaxTotalBytes),
		hint:   "make the action smaller or raise the limit"}
}

// readError classifies an error from decompressing an entry's data.
func readError(name string, err error) error {
	if errors.Is(err, errStreamCap) {
		return &entryError{entry: name, sentinel: ErrTooLarge, reason: "takes the decompressed stream past its limit", cause: err,
			hint: "make the action smaller or raise the limit"}
	}
	return &entryError{entry: name, sentinel: ErrCorrupt, reason: "is corrupt", cause: err,
		hint: "rebuild the archive and check that it was not truncated"}
}

// removeContents removes everything below root, leaving root itself.
func removeContents(root *os.Root) error {
	d, err := root.Open(rootName)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := root.RemoveAll(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isEmpty reports whether root has no entries.
func isEmpty(root *os.Root) (bool, error) {
	d, err := root.Open(rootName)
	if err != nil {
		return false, err
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return false, nil
	}
	if err != nil && err != io.EOF {
		return false, err
	}
	return true, nil
}
