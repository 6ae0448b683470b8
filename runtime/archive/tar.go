package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
)

// Bounds on the decompressed tar stream beyond the entries' own bytes.
// Headers (with PAX and GNU long-name records), block padding and the
// end-of-archive blocks are not entry data, so MaxTotalBytes alone does not
// bound them; the stream as a whole may be at most
// MaxTotalBytes + (entries+1)*tarHeaderAllowance + tarTailAllowance bytes,
// which stops a gzip bomb of headers or of trailing data.
const (
	tarHeaderAllowance = 64 << 10
	tarTailAllowance   = 1 << 20
)

// errStreamCap is returned by capReader once the decompressed stream reaches
// its bound.
var errStreamCap = errors.New("decompressed tar stream reached its limit (MaxTotalBytes plus header allowance)")

// capReader reads at most max bytes from r, then fails with errStreamCap.
type capReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		return 0, fmt.Errorf("%w: %d bytes", errStreamCap, c.max)
	}
	if rest := c.max - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// unpackTarGz extracts a gzip-compressed tar archive held in payload,
// streaming: no entry is held in memory.
func unpackTarGz(x *extractor, payload []byte) error {
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("%w: reading the gzip header: %w; rebuild the archive with tar -czf", ErrCorrupt, err)
	}
	defer zr.Close()
	stream := &capReader{r: zr, max: tarStreamCap(x.lim)}
	tr := tar.NewReader(stream)
	prev := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			// ErrInsecurePath comes with a usable header (GODEBUG
			// tarinsecurepath=0); cleanName then names the bad entry.
			return streamError(headerWhat(prev), err)
		}
		prev = hdr.Name
		if err := x.countEntry(hdr.Name); err != nil {
			return err
		}
		if err := unpackTarEntry(x, tr, hdr); err != nil {
			return err
		}
	}
	// Read to the end of the gzip stream so a damaged or truncated trailer
	// (CRC-32, length) is found; the cap still bounds the work.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return streamError("the end of the gzip stream", err)
	}
	return nil
}

func unpackTarEntry(x *extractor, tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX defaults for later entries; nothing to create
	}
	if _, err := cleanName(hdr.Name, x.lim); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg, '\x00', tar.TypeGNUSparse:
		// '\x00' is the pre-POSIX regular file (tar.TypeRegA). A sparse
		// file is read with its holes filled, every byte counted.
		return x.file(hdr.Name, hdr.Size, hdr.Mode&0o111 != 0, tr)
	case tar.TypeDir:
		return x.dir(hdr.Name)
	case tar.TypeSymlink:
		return &entryError{entry: hdr.Name, sentinel: ErrLinkEntry,
			reason: fmt.Sprintf("is a symbolic link to %s", quoteName(hdr.Linkname)),
			hint:   "replace the link with the file it points to (tar -h)"}
	case tar.TypeLink:
		return &entryError{entry: hdr.Name, sentinel: ErrLinkEntry,
			reason: fmt.Sprintf("is a hard link to %s", quoteName(hdr.Linkname)),
			hint:   "rebuild the archive with tar --hard-dereference"}
	case tar.TypeChar:
		return unsupportedTar(hdr, "character device")
	case tar.TypeBlock:
		return unsupportedTar(hdr, "block device")
	case tar.TypeFifo:
		return unsupportedTar(hdr, "named pipe (FIFO)")
	}
	return unsupportedTar(hdr, fmt.Sprintf("tar entry of type %q", hdr.Typeflag))
}

func unsupportedTar(hdr *tar.Header, what string) error {
	return &entryError{entry: hdr.Name, sentinel: ErrUnsupportedEntry,
		reason: fmt.Sprintf("is a %s, not a regular file or directory", what),
		hint:   "leave it out of the archive"}
}

// streamError classifies an error reading the tar stream outside an entry.
func streamError(what string, err error) error {
	if errors.Is(err, errStreamCap) {
		return fmt.Errorf("%w: reading %s: %w; make the action smaller or raise MaxTotalBytes", ErrTooLarge, what, err)
	}
	return fmt.Errorf("%w: reading %s: %w; rebuild the archive and check that it was not truncated", ErrCorrupt, what, err)
}

// headerWhat names the tar header that follows entry prev.
func headerWhat(prev string) string {
	if prev == "" {
		return "the first tar header"
	}
	return "the tar header after entry " + quoteName(prev)
}

// tarStreamCap is the most decompressed bytes a tar stream may take.
func tarStreamCap(lim Limits) int64 {
	rest := int64(math.MaxInt64) - lim.MaxTotalBytes - tarTailAllowance
	if rest <= 0 || int64(lim.MaxFiles) >= rest/tarHeaderAllowance {
		return math.MaxInt64 // saturate with enormous limits
	}
	return lim.MaxTotalBytes + tarTailAllowance + int64(lim.MaxFiles+1)*tarHeaderAllowance
}
