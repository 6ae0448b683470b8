package crashproc

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// DescribeRegion reports the commit state of a region image for a failure
// message: the commit word, both roots with their raw tail words, and how the
// active root's log frames up to its tail (and a little past it, where a write
// in flight may have left records). It never fails; it says what it cannot
// decode.
func DescribeRegion(img []byte) string {
	var b strings.Builder
	if len(img) < layout.DataStart {
		fmt.Fprintf(&b, "image of %d bytes is shorter than the %d-byte header", len(img), layout.DataStart)
		return b.String()
	}
	if _, err := layout.DecodeSuperblock(img); err != nil {
		fmt.Fprintf(&b, "superblock: %v\n", err)
	}
	gen := binary.LittleEndian.Uint64(img[layout.CommitOff:])
	fmt.Fprintf(&b, "commit word: generation %d (slot %d), bytes % x\n", gen, layout.SlotOf(gen), img[layout.CommitOff:layout.CommitOff+8])
	var active layout.Root
	activeOK := false
	for slot := range 2 {
		off := layout.RootOffset(slot)
		raw := img[off : off+layout.RootSize]
		tailBytes := raw[layout.RootTailOff : layout.RootTailOff+8]
		r, err := layout.DecodeRoot(raw, off, int64(len(img)))
		mark := ""
		if gen != 0 && slot == layout.SlotOf(gen) {
			mark = " (active)"
		}
		fmt.Fprintf(&b, "root %d%s: gen %d size %d log [%d, %d) end %d, tail bytes % x",
			slot, mark, r.Gen, r.Size, r.LogStart, r.Tail, r.LogEnd, tailBytes)
		if err != nil {
			fmt.Fprintf(&b, ": %v", err)
		}
		b.WriteByte('\n')
		if mark != "" && err == nil && r.Gen == gen {
			active, activeOK = r, true
		}
	}
	if !activeOK {
		b.WriteString("no valid active root: the log cannot be framed")
		return b.String()
	}
	describeLog(&b, img, active)
	return strings.TrimRight(b.String(), "\n")
}

// describeLog frames the records of r's log: the count up to the tail, the
// last few before it, where framing fails, and the records just past the tail.
func describeLog(b *strings.Builder, img []byte, r layout.Root) {
	type rec struct {
		off, size int64
		kind      uint8
		key       string
	}
	const keep = 3
	var last []rec
	n := 0
	off, tail := int64(r.LogStart), int64(r.Tail)
	for off < tail {
		h, key, err := layout.DecodeRecord(img, off, int64(r.LogEnd))
		if err != nil {
			fmt.Fprintf(b, "framing fails at %d, %d bytes before the tail: %v\n", off, tail-off, err)
			break
		}
		last = append(last, rec{off, h.Size(), h.Kind, string(key)})
		if len(last) > keep {
			last = last[1:]
		}
		n++
		if off+h.Size() > tail {
			fmt.Fprintf(b, "the tail %d falls %d bytes into the record at %d (%d bytes, kind %d, key %q)\n",
				tail, tail-off, off, h.Size(), h.Kind, key)
			off += h.Size()
			break
		}
		off += h.Size()
	}
	fmt.Fprintf(b, "log: %d records framed from %d;", n, r.LogStart)
	for _, x := range last {
		fmt.Fprintf(b, " [%d+%d kind %d %q]", x.off, x.size, x.kind, x.key)
	}
	b.WriteByte('\n')
	if off != tail {
		return
	}
	b.WriteString("past the tail:")
	for i := 0; i < keep; i++ {
		h, key, err := layout.DecodeRecord(img, off, int64(r.LogEnd))
		if err != nil {
			fmt.Fprintf(b, " no record at %d", off)
			break
		}
		fmt.Fprintf(b, " [%d+%d kind %d %q]", off, h.Size(), h.Kind, key)
		off += h.Size()
	}
	b.WriteByte('\n')
}
