package transfer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

const (
	// DefaultPacketSize is the data carried by a full packet: 128 chunks,
	// as Java's BlockSender and both clients' writers use.
	DefaultPacketSize = 64 << 10
	// MaxPacketSize bounds PLEN, as Java's dfs.data-transfer.max-packet-size
	// default (PacketReceiver.MAX_PACKET_SIZE).
	MaxPacketSize = 16 << 20
	// HeartbeatSeqno marks a write-pipeline heartbeat packet.
	HeartbeatSeqno = -1

	// lengthsLen is PLEN (uint32) plus the header length (uint16).
	lengthsLen = 6
	// headerLen is the encoded PacketHeaderProto without syncBlock; every
	// field is fixed-width.
	headerLen = 25
	// maxPrefixLen is lengths, a header with syncBlock, and the checksums of
	// a full packet.
	maxPrefixLen = lengthsLen + headerLen + 2 + ChecksumSize*DefaultPacketSize/ChunkSize
)

// PacketHeader is the decoded PacketHeaderProto of a data packet.
type PacketHeader struct {
	OffsetInBlock int64 // block offset of the first data byte
	Seqno         int64 // HeartbeatSeqno for heartbeats
	Last          bool  // lastPacketInBlock: the empty packet ending a block
	DataLen       int32 // data bytes in the packet
	SyncBlock     bool  // the writer asks for the data to be made durable
}

// Heartbeat reports whether h is a write-pipeline heartbeat: seqno -1 and no
// data.
func (h PacketHeader) Heartbeat() bool { return h.Seqno == HeartbeatSeqno && h.DataLen == 0 }

// AppendHeader appends the PacketHeaderProto encoding of h: fields 1-4
// always (sfixed64, sfixed64, bool, sfixed32, 25 bytes) and syncBlock only
// when true, as Java's PacketHeader does, so the encoding is byte-for-byte
// what proto.Marshal gives.
func AppendHeader(dst []byte, h PacketHeader) []byte {
	dst = append(dst, 0x09)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.OffsetInBlock))
	dst = append(dst, 0x11)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Seqno))
	dst = append(dst, 0x18, boolByte(h.Last), 0x25)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.DataLen))
	if h.SyncBlock {
		dst = append(dst, 0x28, 1)
	}
	return dst
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// appendPrefix appends PLEN, the header length and the header of a packet
// whose checksums will take checksumLen bytes; the caller appends them.
func appendPrefix(dst []byte, h PacketHeader, checksumLen int) []byte {
	plen := 4 + checksumLen + int(h.DataLen)
	dst = binary.BigEndian.AppendUint32(dst, uint32(plen))
	n := headerLen
	if h.SyncBlock {
		n += 2
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	return AppendHeader(dst, h)
}

// PacketWriter sends data packets. The data slice is handed to the
// connection as its own iovec (net.Buffers, writev on a TCP or Unix
// connection), never copied: it may alias a read-only mapping. Only the
// lengths, header and checksums are built, in a buffer the writer reuses.
// SendBlock queues several packets and sends them with one writev.
// A PacketWriter is not safe for concurrent use.
type PacketWriter struct {
	w       io.Writer
	arena   []byte      // prefixes (lengths, header, checksums) of queued packets
	pending []queued    // packets queued since the last flush
	iov     net.Buffers // scratch for flush
	data    int         // data bytes queued
	sent    int64       // wire bytes written
}

// queued is one packet waiting in a PacketWriter: its prefix is
// arena[pre0:pre1] (offsets, as the arena may move while it grows).
type queued struct {
	pre0, pre1 int
	data       []byte
	h          PacketHeader
}

// NewPacketWriter returns a writer of packets to w. Pass the net.Conn itself
// (not a bufio.Writer) so data goes out by writev without a copy.
func NewPacketWriter(w io.Writer) *PacketWriter {
	return &PacketWriter{w: w, arena: make([]byte, 0, maxPrefixLen)}
}

// WritePacket sends one packet: h, then checksums and data. h.DataLen must
// equal len(data), and checksums plus data at most MaxPacketSize-4 bytes.
// checksums are sent as given (see AppendChecksums); WritePacket does not
// compute or check them.
func (pw *PacketWriter) WritePacket(h PacketHeader, checksums, data []byte) error {
	if err := pw.queue(h, checksums, data, false); err != nil {
		return err
	}
	return pw.flush()
}

// queue adds a packet to the next flush, its checksums given or (computed)
// calculated into the arena.
func (pw *PacketWriter) queue(h PacketHeader, checksums, data []byte, computed bool) error {
	if int(h.DataLen) != len(data) || h.DataLen < 0 {
		return fmt.Errorf("%w: packet %d: header dataLen %d for %d data bytes", ErrMalformed, h.Seqno, h.DataLen, len(data))
	}
	sumLen := len(checksums)
	if computed {
		sumLen = NumChunks(len(data)) * ChecksumSize
	}
	if n := sumLen + len(data); n > MaxPacketSize-4 {
		return sizeError(fmt.Sprintf("packet %d payload", h.Seqno), uint64(n), MaxPacketSize-4)
	}
	pre0 := len(pw.arena)
	pw.arena = appendPrefix(pw.arena, h, sumLen)
	if computed {
		pw.arena = AppendChecksums(pw.arena, data)
	} else {
		pw.arena = append(pw.arena, checksums...)
	}
	pw.pending = append(pw.pending, queued{pre0: pre0, pre1: len(pw.arena), data: data, h: h})
	pw.data += len(data)
	return nil
}

// flush sends the queued packets with one net.Buffers write: a single
// writev on a TCP connection, one Write per buffer elsewhere.
func (pw *PacketWriter) flush() error {
	if len(pw.pending) == 0 {
		return nil
	}
	iov := pw.iov[:0]
	for _, q := range pw.pending {
		iov = append(iov, pw.arena[q.pre0:q.pre1])
		if len(q.data) > 0 {
			iov = append(iov, q.data)
		}
	}
	pw.iov = iov
	bufs := pw.iov // WriteTo consumes the slice it is called on
	n, err := bufs.WriteTo(pw.w)
	pw.sent += n
	clear(pw.iov[:cap(pw.iov)]) // do not pin the mapping
	first, last := pw.pending[0].h, pw.pending[len(pw.pending)-1].h
	pw.pending, pw.arena, pw.data = pw.pending[:0], pw.arena[:0], 0
	if err != nil {
		if first.Seqno == last.Seqno {
			return fmt.Errorf("transfer: write packet %d (offset %d, %d bytes): %w", first.Seqno, first.OffsetInBlock, first.DataLen, err)
		}
		return fmt.Errorf("transfer: write packets %d-%d (offsets %d-%d): %w", first.Seqno, last.Seqno, first.OffsetInBlock, last.OffsetInBlock+int64(last.DataLen), err)
	}
	return nil
}

// Sent returns the wire bytes written so far.
func (pw *PacketWriter) Sent() int64 { return pw.sent }

// DecodePacket reads one packet from r: PLEN, header length, header,
// checksums and data. PLEN must be at least 4 and at most max (PLEN counts
// itself, the checksums and the data, not the header); the header length is
// a uint16, so under 64 KiB. Lengths are checked before anything of their
// size is allocated, and checksums and data are fresh slices (capacities
// ending at their lengths) that the caller owns.
//
// At a clean end of stream (no byte of a new packet) it returns io.EOF
// itself. Other failures wrap ErrTooLarge, ErrMalformed (a header that does
// not decode or lacks a required field, a negative dataLen, or one over
// PLEN-4) or ErrTruncated. The checksum count is not checked here: it depends
// on the checksum type the op negotiated (ReceiveBlock checks it).
func DecodePacket(r *bufio.Reader, max int) (h PacketHeader, checksums, data []byte, err error) {
	pr := packetReader{r: r, max: max}
	return pr.next(nil)
}

// packetReader decodes packets into buffers it reuses.
type packetReader struct {
	r    *bufio.Reader
	max  int
	hdr  pb.PacketHeaderProto
	hbuf []byte
	// reuse keeps one payload buffer across packets (ReceiveBlock); without
	// it every packet gets a fresh one (DecodePacket).
	reuse bool
	body  []byte
}

// next reads one packet. check, if not nil, sees the header and the payload
// length (checksums plus data) before the payload is read, and may refuse
// the packet. The returned slices alias pr.body when pr reuses it.
func (pr *packetReader) next(check func(h PacketHeader, payload int) error) (h PacketHeader, checksums, data []byte, err error) {
	var lens [lengthsLen]byte
	n, err := io.ReadFull(pr.r, lens[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return h, nil, nil, io.EOF
		}
		return h, nil, nil, readErr("packet lengths", err)
	}
	plen := binary.BigEndian.Uint32(lens[:4])
	hlen := int(binary.BigEndian.Uint16(lens[4:]))
	if plen < 4 {
		return h, nil, nil, fmt.Errorf("%w: packet length %d is under 4", ErrMalformed, plen)
	}
	if pr.max < 4 || uint64(plen) > uint64(pr.max) {
		return h, nil, nil, sizeError("packet length", uint64(plen), pr.max)
	}
	payload := int(plen - 4)

	if cap(pr.hbuf) < hlen {
		pr.hbuf = make([]byte, hlen)
	}
	hb := pr.hbuf[:hlen]
	if _, err := io.ReadFull(pr.r, hb); err != nil {
		return h, nil, nil, readErr("packet header", err)
	}
	if err := proto.Unmarshal(hb, &pr.hdr); err != nil {
		return h, nil, nil, fmt.Errorf("%w: packet header (%d bytes): %w", ErrMalformed, hlen, err)
	}
	h = PacketHeader{
		OffsetInBlock: pr.hdr.GetOffsetInBlock(),
		Seqno:         pr.hdr.GetSeqno(),
		Last:          pr.hdr.GetLastPacketInBlock(),
		DataLen:       pr.hdr.GetDataLen(),
		SyncBlock:     pr.hdr.GetSyncBlock(),
	}
	if h.DataLen < 0 || int(h.DataLen) > payload {
		return h, nil, nil, fmt.Errorf("%w: packet %d: dataLen %d with %d payload bytes", ErrMalformed, h.Seqno, h.DataLen, payload)
	}
	if check != nil {
		if err := check(h, payload); err != nil {
			return h, nil, nil, err
		}
	}

	var body []byte
	if !pr.reuse {
		body = make([]byte, payload)
	} else {
		if cap(pr.body) < payload {
			pr.body = make([]byte, payload)
		}
		body = pr.body[:payload]
	}
	if _, err := io.ReadFull(pr.r, body); err != nil {
		return h, nil, nil, readErr(fmt.Sprintf("packet %d payload (%d bytes)", h.Seqno, payload), err)
	}
	c := payload - int(h.DataLen)
	return h, body[:c:c], body[c:payload:payload], nil
}
