package records

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
)

// segScan is what recovery found in one segment.
type segScan struct {
	num  uint64
	path string
	size int64    // of the file
	end  int64    // end of the last intact record (0: the header is torn)
	torn string   // why the bytes from end on are a torn write ("": none)
	recs []*entry // located within the segment, not yet indexed
}

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, "seg-")
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, ".log"); !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 || segmentName(n) != name {
		return 0, false
	}
	return n, true
}

// scanSegments reads and checks every segment, in order, changing nothing.
func (s *Store) scanSegments() ([]*segScan, error) {
	ents, err := s.fs.ReadDir(s.segDir)
	if err != nil {
		return nil, ioError("list activation segments", err)
	}
	type seg struct {
		num  uint64
		path string
	}
	var segs []seg
	for _, e := range ents {
		n, ok := parseSegmentName(e.Name)
		if !ok || e.IsDir {
			s.log.Warn("unexpected file among activation segments, ignored", "path", filepath.Join(s.segDir, e.Name))
			continue
		}
		segs = append(segs, seg{n, filepath.Join(s.segDir, e.Name)})
	}
	slices.SortFunc(segs, func(a, b seg) int {
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	})
	out := make([]*segScan, 0, len(segs))
	for i, g := range segs {
		sc, err := scanSegment(s.fs, g.path, g.num, i == len(segs)-1)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// scanSegment reads and checks one segment. A bad spot in the last segment
// with no record of a later group commit intact after it is a torn write:
// the scan notes it (end, torn) for the caller to cut. Any other bad spot
// is a *CorruptError.
func scanSegment(fsys vfs.FS, path string, num uint64, last bool) (*segScan, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, ioError("open activation segment", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, ioError("stat activation segment", err)
	}
	sc := &segScan{num: num, path: path, size: size}
	corrupt := func(off int64, reason string) *CorruptError {
		return &CorruptError{Path: path, Offset: off, What: "activation segment", Reason: reason}
	}
	bad := func(off int64, reason string) (*segScan, error) {
		if !last {
			return nil, corrupt(off, reason+"; in a segment that is not the last one, so not a write interrupted by a crash")
		}
		later, err := findLaterBatch(f, off, size)
		if err != nil {
			return nil, ioError("read activation segment", err)
		}
		if later >= 0 {
			return nil, corrupt(off, fmt.Sprintf("%s; the record at offset %d, written by a later group commit, is intact, so this is damage, not a write interrupted by a crash", reason, later))
		}
		sc.end, sc.torn = off, reason
		return sc, nil
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), int(min(size, 1<<20)))
	hdr := make([]byte, format.FrameHeaderSize)
	if size < format.SegmentHeaderSize {
		return bad(0, fmt.Sprintf("segment header cut short: the file has %d bytes", size))
	}
	if _, err := io.ReadFull(r, hdr[:format.SegmentHeaderSize]); err != nil {
		return nil, ioError("read activation segment "+path, err)
	}
	n, err := format.DecodeSegmentHeader(hdr)
	if err != nil {
		return bad(0, err.Error())
	}
	if n != num {
		return nil, corrupt(0, fmt.Sprintf("the header says segment %d, the file name %d", n, num))
	}
	off := int64(format.SegmentHeaderSize)
	var payload []byte
	for off < size {
		if size-off < format.FrameHeaderSize {
			if allZeroTail(f, off, size) {
				return bad(off, fmt.Sprintf("%d zero bytes where a record header should be", size-off))
			}
			return bad(off, fmt.Sprintf("record header cut short: %d bytes left", size-off))
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, ioError("read activation segment "+path, err)
		}
		fr, err := format.DecodeFrame(hdr)
		if err != nil {
			return bad(off, err.Error())
		}
		if fr.BatchOffset < format.SegmentHeaderSize || int64(fr.BatchOffset) > off {
			return bad(off, fmt.Sprintf("record batch offset %d out of place", fr.BatchOffset))
		}
		if off+fr.Size() > size {
			return bad(off, fmt.Sprintf("record of %d bytes runs past the end of the file (%d bytes)", fr.Size(), size))
		}
		if cap(payload) < int(fr.Length) {
			payload = make([]byte, fr.Length)
		}
		p := payload[:fr.Length]
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, ioError("read activation segment "+path, err)
		}
		if err := fr.CheckPayload(p); err != nil {
			return bad(off, err.Error())
		}
		var h recordHead
		if err := json.Unmarshal(p[:fr.HeadLength], &h); err != nil {
			return bad(off, "record head: "+err.Error())
		}
		e, err := entryFromHead(&h, fr.Status)
		if err != nil {
			return bad(off, err.Error())
		}
		e.off, e.size = off, fr.Size()
		sc.recs = append(sc.recs, e)
		off += fr.Size()
	}
	sc.end = off
	return sc, nil
}

func allZeroTail(f vfs.File, off, size int64) bool {
	b := make([]byte, size-off)
	if n, _ := f.ReadAt(b, off); n < len(b) {
		return false
	}
	return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 })
}

// findLaterBatch looks after the bad spot at from for an intact record
// whose group commit started after from, and returns its offset, or -1.
// Such a record proves the bytes at from were synced before it was
// written: damage, not a torn write.
func findLaterBatch(f vfs.File, from, size int64) (int64, error) {
	base := from + 1
	if size-base < format.FrameHeaderSize {
		return -1, nil
	}
	buf := make([]byte, size-base)
	if n, err := f.ReadAt(buf, base); n < len(buf) {
		return -1, err
	}
	for pos := 0; ; {
		i := bytes.Index(buf[pos:], format.FrameMagic)
		if i < 0 {
			return -1, nil
		}
		p := pos + i
		fr, err := format.DecodeFrame(buf[p:])
		if err != nil || int64(len(buf)-p) < fr.Size() || int64(fr.BatchOffset) > base+int64(p) ||
			fr.CheckPayload(buf[p+format.FrameHeaderSize:p+int(fr.Size())]) != nil {
			pos = p + 1
			continue
		}
		if int64(fr.BatchOffset) > from {
			return base + int64(p), nil
		}
		pos = p + int(fr.Size())
	}
}
