package transfer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// BlockSink stores the data of a block being written.
//
// ReceiveBlock calls WriteAt with strictly contiguous ranges: the first at
// ReceiveOptions.StartOffset, each next one where the previous ended, so an
// append-only writer (pmem.FileWriter) can check off against its length and
// append. Data a client re-sends (Java re-sends a flushed partial chunk) is
// not passed again. p aliases a receive buffer: copy it, do not keep it. A
// short write without an error counts as io.ErrShortWrite.
type BlockSink interface {
	WriteAt(p []byte, off int64) (n int, err error)
}

// Syncer is implemented by sinks that can make written data durable. When the
// sink implements it, ReceiveBlock calls Sync after a packet that asks for it
// (syncBlock, from hsync) and after the last packet, before acknowledging the
// packet: a client's close returns (and it calls complete) only once that
// last ack has arrived.
type Syncer interface {
	Sync() error
}

// ReceiveOptions configures ReceiveBlock. The zero value is valid: a new
// block, 16 MiB packet bound, no length limit.
type ReceiveOptions struct {
	// StartOffset is the length of the block before this write: 0 on
	// PIPELINE_SETUP_CREATE, the existing length (minBytesRcvd) on
	// PIPELINE_SETUP_APPEND. The first packet must start there; when it is
	// not a multiple of 512 that packet holds only the rest of the partial
	// chunk, with its own CRC over just those bytes.
	StartOffset int64
	// MaxPacketSize bounds PLEN of each packet, in [4, MaxPacketSize]. 0
	// means MaxPacketSize (16 MiB), Java's default.
	MaxPacketSize int
	// MaxBlockLen, if positive, is the most the block may hold (the file's
	// block size); a packet going past it fails with ErrRange.
	MaxBlockLen int64
}

// DefaultReceiveOptions returns the defaults for a new block.
func DefaultReceiveOptions() ReceiveOptions {
	return ReceiveOptions{MaxPacketSize: MaxPacketSize}
}

// Validate reports every invalid field at once; each error wraps ErrOptions.
func (o ReceiveOptions) Validate() error {
	var errs []error
	if o.StartOffset < 0 {
		errs = append(errs, fmt.Errorf("%w: StartOffset %d is negative", ErrOptions, o.StartOffset))
	}
	if o.MaxPacketSize != 0 && (o.MaxPacketSize < 4 || o.MaxPacketSize > MaxPacketSize) {
		errs = append(errs, fmt.Errorf("%w: MaxPacketSize %d outside [4, %d]", ErrOptions, o.MaxPacketSize, MaxPacketSize))
	}
	if o.MaxBlockLen < 0 {
		errs = append(errs, fmt.Errorf("%w: MaxBlockLen %d is negative", ErrOptions, o.MaxBlockLen))
	} else if o.MaxBlockLen > 0 && o.StartOffset > o.MaxBlockLen {
		errs = append(errs, fmt.Errorf("%w: StartOffset %d exceeds MaxBlockLen %d", ErrOptions, o.StartOffset, o.MaxBlockLen))
	}
	return errors.Join(errs...)
}

// firstSeqno is the "previous seqno" before the first packet.
const firstSeqno = -2

// ReceiveBlock runs the data phase of WRITE_BLOCK for a pipeline of one, after
// the caller has sent WriteOpResponse: it reads packets from r, checks them,
// stores their data in sink and writes one PipelineAckProto per packet to w
// (the connection), in order, until the lastPacketInBlock packet, which it
// acknowledges last. It returns the block's length: StartOffset plus the
// bytes stored, also on error.
//
// Every packet is bounded (PLEN <= MaxPacketSize, dataLen <= PLEN-4) and
// checked before it is stored: seqnos +1 from the first (which may be any
// value >= 0: colinmarc/hdfs starts each block at 1, Java at 0 but continues
// its count across the blocks of a file), one CRC32C per 512 data bytes, and
// offsetInBlock continuous from StartOffset, except that a packet may
// re-send the block's current partial chunk. Heartbeats (seqno -1, no data)
// are acknowledged and otherwise ignored.
//
// A chunk whose CRC32C does not match is acknowledged with ERROR_CHECKSUM and
// ends the call with a *ChecksumError naming its offset; a sink failure is
// acknowledged with ERROR and wraps ErrSink. Other protocol errors
// (*SeqnoError, *OffsetError, ErrMalformed, ErrTooLarge, ErrTruncated when
// the stream ends before the last packet) get no ack: close the connection.
// When ctx ends, blocked I/O is interrupted through w's SetDeadline, if it
// has one (pass the net.Conn that r reads), and the error wraps ctx's cause.
func ReceiveBlock(ctx context.Context, r *bufio.Reader, w io.Writer, sink BlockSink, opts ReceiveOptions) (int64, error) {
	if err := opts.Validate(); err != nil {
		return opts.StartOffset, err
	}
	if opts.MaxPacketSize == 0 {
		opts.MaxPacketSize = MaxPacketSize
	}
	rc := &receiver{
		pr:   packetReader{r: r, max: opts.MaxPacketSize, reuse: true},
		w:    w,
		sink: sink,
		opts: opts,
		have: opts.StartOffset,
		prev: firstSeqno,
	}
	rc.sync, _ = sink.(Syncer)

	stop := watch(ctx, readWriteDeadline(w))
	defer stop()
	err := rc.run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("transfer: receive block stopped at length %d: %w (%w)", rc.have, context.Cause(ctx), err)
	}
	return rc.have, err
}

type receiver struct {
	pr   packetReader
	w    io.Writer
	sink BlockSink
	sync Syncer
	opts ReceiveOptions
	have int64 // block length so far
	prev int64 // seqno of the previous data packet, or firstSeqno
	ack  []byte
}

func (rc *receiver) run() error {
	for {
		h, sums, data, err := rc.pr.next(rc.check)
		if err == io.EOF {
			return truncated(fmt.Sprintf("block data after seqno %d, before the last packet", rc.prev))
		}
		if err != nil {
			return err
		}
		if h.Heartbeat() {
			if err := rc.sendAck(HeartbeatSeqno, pb.Status_SUCCESS); err != nil {
				return err
			}
			continue
		}
		rc.prev = h.Seqno

		if err := VerifyChecksums(data, sums, h.OffsetInBlock, h.Seqno); err != nil {
			if ackErr := rc.sendAck(h.Seqno, pb.Status_ERROR_CHECKSUM); ackErr != nil {
				return errors.Join(err, ackErr)
			}
			return err
		}
		if skip := rc.have - h.OffsetInBlock; int64(len(data)) > skip {
			if err := rc.store(data[skip:], h); err != nil {
				return err
			}
		}
		if rc.sync != nil && (h.SyncBlock || h.Last) {
			if err := rc.sync.Sync(); err != nil {
				return rc.sinkFailed(h, fmt.Errorf("%w: sync at length %d (packet %d): %w", ErrSink, rc.have, h.Seqno, err))
			}
		}
		if err := rc.sendAck(h.Seqno, pb.Status_SUCCESS); err != nil {
			return err
		}
		if h.Last {
			return nil
		}
	}
}

// check vets a packet's header before its payload is read.
func (rc *receiver) check(h PacketHeader, payload int) error {
	if h.Seqno == HeartbeatSeqno {
		if h.DataLen != 0 || payload != 0 || h.Last {
			return fmt.Errorf("%w: heartbeat with %d payload bytes, dataLen %d, lastPacketInBlock %t",
				ErrMalformed, payload, h.DataLen, h.Last)
		}
		return nil
	}
	switch {
	case rc.prev == firstSeqno && h.Seqno < 0:
		return &SeqnoError{Got: h.Seqno, Want: firstSeqno}
	case rc.prev != firstSeqno && h.Seqno != rc.prev+1:
		return &SeqnoError{Got: h.Seqno, Want: rc.prev + 1}
	}
	n := int(h.DataLen)
	if h.Last && n != 0 {
		return fmt.Errorf("%w: last packet %d carries %d data bytes", ErrMalformed, h.Seqno, n)
	}
	if want := NumChunks(n) * ChecksumSize; payload-n != want {
		return fmt.Errorf("%w: packet %d: %d checksum bytes for %d data bytes, want %d CRC32C",
			ErrMalformed, h.Seqno, payload-n, n, want)
	}
	o := h.OffsetInBlock
	oe := &OffsetError{Seqno: h.Seqno, Offset: o, Len: n, Have: rc.have}
	low := max(chunkStart(rc.have), rc.opts.StartOffset)
	switch {
	case o > rc.have:
		oe.Reason = "leaves a gap"
		return oe
	case o < low:
		oe.Reason = fmt.Sprintf("rewinds before %d, the start of the partial chunk", low)
		return oe
	case o%ChunkSize != 0 && o+int64(n) > chunkEnd(o):
		oe.Reason = "a packet starting inside a chunk must end by the chunk's end"
		return oe
	case rc.opts.MaxBlockLen > 0 && o+int64(n) > rc.opts.MaxBlockLen:
		return fmt.Errorf("%w: packet %d at offset %d (%d bytes) exceeds the block limit %d",
			ErrRange, h.Seqno, o, n, rc.opts.MaxBlockLen)
	}
	return nil
}

// store hands the new part of a packet's data to the sink.
func (rc *receiver) store(p []byte, h PacketHeader) error {
	off := rc.have
	n, err := rc.sink.WriteAt(p, off)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if n > 0 {
		rc.have += int64(min(n, len(p)))
	}
	if err != nil {
		return rc.sinkFailed(h, fmt.Errorf("%w: write %d bytes at offset %d (packet %d): %w", ErrSink, len(p), off, h.Seqno, err))
	}
	return nil
}

// sinkFailed acknowledges h with ERROR and returns err.
func (rc *receiver) sinkFailed(h PacketHeader, err error) error {
	if ackErr := rc.sendAck(h.Seqno, pb.Status_ERROR); ackErr != nil {
		return errors.Join(err, ackErr)
	}
	return err
}

func (rc *receiver) sendAck(seqno int64, status pb.Status) error {
	rc.ack = appendAck(rc.ack[:0], seqno, status)
	if _, err := rc.w.Write(rc.ack); err != nil {
		return fmt.Errorf("transfer: write ack for packet %d: %w", seqno, err)
	}
	return nil
}

// appendAck appends a varint-delimited PipelineAckProto{seqno, reply:
// [status], downstreamAckTimeNanos: 0}, encoded as proto.Marshal would:
// seqno is sint64 (zigzag), reply an unpacked repeated enum. The frame is
// never under 7 bytes.
func appendAck(dst []byte, seqno int64, status pb.Status) []byte {
	var body [2*binary.MaxVarintLen64 + 4]byte
	b := append(body[:0], 0x08)
	b = binary.AppendUvarint(b, uint64(seqno<<1)^uint64(seqno>>63))
	b = append(b, 0x10)
	b = binary.AppendUvarint(b, uint64(status))
	b = append(b, 0x18, 0x00)
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}
