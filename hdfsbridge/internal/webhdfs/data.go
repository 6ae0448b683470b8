package webhdfs

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/transfer"
)

// The data steps of the two-step ops: what Hadoop's DataNode serves after
// the NameNode's 307.

// errFault is a memory fault met while reading a file's mapping: the file
// was cut short (truncated by another writer) under the reader.
var errFault = errors.New("memory fault reading the file's mapping")

// faultErr turns a value recovered from a panic into an error if it is a
// memory fault raised under debug.SetPanicOnFault (a runtime.Error with an
// Addr method), and re-panics anything else.
func (s *Server) faultErr(r any, what string) error {
	f, ok := r.(interface{ Addr() uintptr })
	if !ok {
		panic(r)
	}
	s.faults.Add(1)
	return &namesys.Error{Class: namesys.ClassIO, Err: errFault,
		Msg: fmt.Sprintf("%s: the file was truncated by another writer while it was read (fault at %#x); read it again", what, f.Addr())}
}

// guard runs f, which reads a mapping, with faults turned into an error.
// Only the calling goroutine is affected; its previous setting is restored.
func (s *Server) guard(what string, f func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = s.faultErr(r, what)
		}
	}()
	f()
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// stream writes data, a slice of a mapping, to w. Each piece is first
// copied into a private buffer under the fault guard, so that a fault is
// only ever raised in our own copy, never inside net/http or the kernel. A
// fault ends the stream with an error wrapping errFault; a failed write
// (the client went away) with that error.
func (s *Server) stream(w io.Writer, data []byte, what string) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for len(data) > 0 {
		n := min(len(buf), len(data))
		if err := s.guard(what, func() { copy(buf[:n], data[:n]) }); err != nil {
			return err
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// readRange parses OPEN's offset and length (length -1: to the end).
func (c *call) readRange() (offset, length int64, err error) {
	if offset, err = c.q.integer("offset", 0, 0, maxInt64); err != nil {
		return 0, 0, err
	}
	if length, err = c.q.integer("length", -1, 0, maxInt64); err != nil {
		return 0, 0, err
	}
	return offset, length, nil
}

// checkOpen is OPEN's first step: the range parses and the file is there
// and readable, as the NameNode finds out when it locates the blocks.
func (c *call) checkOpen() error {
	if _, _, err := c.readRange(); err != nil {
		return err
	}
	return c.checkReadable()
}

func (c *call) checkReadable() error {
	v, err := c.s.fs.OpenFile(c.user, c.p)
	if err != nil {
		return err
	}
	return v.Close()
}

// open streams [offset, offset+length) of the file, clipped to its end. An
// offset past the end is an EOFException (403), as Hadoop's seek; the end
// itself gives an empty 200. A fault while streaming (the file truncated
// under us) aborts the connection: the client sees a short body.
func (c *call) open() error {
	offset, length, err := c.readRange()
	if err != nil {
		return err
	}
	v, err := c.s.fs.OpenFile(c.user, c.p)
	if err != nil {
		return err
	}
	defer v.Close()
	size := int64(len(v.Data))
	if offset > size {
		return errf(classEOF, "Cannot seek after EOF: offset %d is beyond the end of %s (length %d)", offset, c.p, size)
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	c.w.WriteHeader(http.StatusOK)
	err = c.s.stream(c.w, v.Data[offset:offset+n], "OPEN "+c.p.String())
	if errors.Is(err, errFault) {
		c.s.log.Warn("webhdfs OPEN: the file was truncated while it was streamed; the reply is cut short", "path", c.p.String(), "err", err)
		panic(http.ErrAbortHandler) // the deferred Close unmaps the file

	}
	return nil // a failed write: the client went away
}

// checksumJSON is the FileChecksum reply.
type checksumJSON struct {
	Algorithm string `json:"algorithm"`
	Bytes     string `json:"bytes"`
	Length    int    `json:"length"`
}

// fileChecksum computes the MD5-of-MD5-of-CRC32C of data, cut into blocks of
// blockSize, as Hadoop's FileChecksumHelper: crcPerBlock is the first
// block's CRC count when there are several blocks, else 0; an empty file is
// Hadoop's magic entry, MD5MD5CRC32Gzip with bytesPerCRC 0 ("MD5-of-0MD5-of-
// 0CRC32" and the MD5 of 32 zero bytes). The 28 bytes are int32 bytesPerCRC,
// int64 crcPerBlock (both big-endian) and the MD5.
func fileChecksum(data []byte, blockSize int64) checksumJSON {
	if blockSize <= 0 {
		blockSize = max(int64(len(data)), 1)
	}
	var md5s [][16]byte
	var crcPerBlock int64
	for off := int64(0); off < int64(len(data)); off += blockSize {
		end := min(off+blockSize, int64(len(data)))
		sum, n := transfer.BlockChecksum(data[off:end])
		if off == 0 {
			crcPerBlock = n
		}
		md5s = append(md5s, sum)
	}
	bytesPerCRC, crcType := int32(transfer.ChunkSize), "CRC32C"
	switch {
	case len(md5s) == 0:
		bytesPerCRC, crcType = 0, "CRC32"
		crcPerBlock = 0
	case len(md5s) == 1:
		crcPerBlock = 0
	}
	md5 := transfer.FileChecksum(md5s)
	var b [28]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(bytesPerCRC))
	binary.BigEndian.PutUint64(b[4:12], uint64(crcPerBlock))
	copy(b[12:], md5[:])
	return checksumJSON{
		Algorithm: fmt.Sprintf("MD5-of-%dMD5-of-%d%s", crcPerBlock, bytesPerCRC, crcType),
		Bytes:     hex.EncodeToString(b[:]),
		Length:    len(b),
	}
}

func (c *call) getFileChecksum() error {
	v, err := c.s.fs.OpenFile(c.user, c.p)
	if err != nil {
		return err
	}
	defer v.Close()
	st, err := c.s.fs.Stat(c.user, c.p)
	if err != nil {
		return err
	}
	var sum checksumJSON
	if err := c.s.guard("GETFILECHECKSUM "+c.p.String(), func() { sum = fileChecksum(v.Data, st.BlockSize) }); err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, map[string]checksumJSON{"FileChecksum": sum})
}

// createOptions parses CREATE's parameters: overwrite (default false),
// permission (644), blocksize (the namespace's), createparent (true) and
// replication (checked, ignored: there is one copy).
func (c *call) createOptions() (namesys.CreateOptions, error) {
	var o namesys.CreateOptions
	var err error
	if o.Overwrite, err = c.q.boolean("overwrite", false); err != nil {
		return o, err
	}
	if o.Perm, err = c.q.permission(0o644); err != nil {
		return o, err
	}
	if o.BlockSize, err = c.q.integer("blocksize", 0, 1, maxInt64); err != nil {
		return o, err
	}
	if o.CreateParent, err = c.q.boolean("createparent", true); err != nil {
		return o, err
	}
	if _, err = c.q.integer("replication", 1, 1, 32767); err != nil {
		return o, err
	}
	return o, nil
}

func (c *call) checkCreate() error {
	_, err := c.createOptions()
	return err
}

func (c *call) checkAppend() error {
	st, err := c.s.fs.Stat(c.user, c.p)
	if err != nil {
		return err
	}
	if st.IsDir {
		return errf(namesys.ClassFileNotFound, "failed to append to directory %s", c.p)
	}
	return nil
}

// body is the request body, bounded by MaxBodyBytes. A body declared larger
// than the bound is refused before anything is touched.
func (c *call) body() (io.Reader, error) {
	if c.s.maxBody <= 0 {
		return c.r.Body, nil
	}
	if c.r.ContentLength > c.s.maxBody {
		return nil, &errTooLarge{limit: c.s.maxBody}
	}
	return http.MaxBytesReader(c.w, c.r.Body, c.s.maxBody), nil
}

// create writes the body to the file (streamed: namesys copies it in
// pieces) and answers 201 with Location webhdfs://host/path.
func (c *call) create() error {
	o, err := c.createOptions()
	if err != nil {
		return err
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	if _, err := c.s.fs.WriteFile(c.user, c.p, o, body); err != nil {
		return err
	}
	c.w.Header().Set("Location", "webhdfs://"+c.host()+escapedPath(c.p)[len(Prefix):])
	c.writeEmpty(http.StatusCreated)
	return nil
}

func (c *call) append() error {
	body, err := c.body()
	if err != nil {
		return err
	}
	if err := c.s.fs.AppendFile(c.user, c.p, body); err != nil {
		return err
	}
	c.writeEmpty(http.StatusOK)
	return nil
}
