package transfer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

// SendOptions configures SendBlock. The zero value is valid and means the
// defaults.
type SendOptions struct {
	// PacketSize is the data carried by each packet but the last: a multiple
	// of 512 up to 8 MiB. 0 means DefaultPacketSize (64 KiB), what Java's
	// BlockSender sends.
	PacketSize int
	// Checksums, if not nil, is the big-endian CRC32C of every 512-byte chunk
	// of the whole block (AppendChecksums(nil, block)), for a store that keeps
	// them; SendBlock then sends slices of it instead of computing them. It
	// must be exactly NumChunks(len(block))*4 bytes.
	Checksums []byte
}

// DefaultSendOptions returns the defaults: 64 KiB packets, CRCs computed.
func DefaultSendOptions() SendOptions {
	return SendOptions{PacketSize: DefaultPacketSize}
}

// maxSendPacketSize keeps PLEN (4 + data + data/128) under MaxPacketSize.
const maxSendPacketSize = 8 << 20

// Validate reports every invalid field at once; each error wraps ErrOptions.
func (o SendOptions) Validate() error {
	var errs []error
	if o.PacketSize < 0 || o.PacketSize%ChunkSize != 0 || o.PacketSize > maxSendPacketSize {
		errs = append(errs, fmt.Errorf("%w: PacketSize %d is not a multiple of %d in [0, %d]",
			ErrOptions, o.PacketSize, ChunkSize, maxSendPacketSize))
	}
	if len(o.Checksums)%ChecksumSize != 0 {
		errs = append(errs, fmt.Errorf("%w: Checksums is %d bytes, not a multiple of %d",
			ErrOptions, len(o.Checksums), ChecksumSize))
	}
	return errors.Join(errs...)
}

// SendBlock runs the data phase of READ_BLOCK for a block held entirely in
// block (typically a read-only mapping of the block file), after the caller
// has sent ReadOpResponse(offset).
//
// It sends the chunks covering [offset, offset+length), clipped to the block:
// from offset rounded down to 512 (the chunkOffset of the reply) up to
// min(len(block), offset+length rounded up to 512), in packets of
// opts.PacketSize data bytes (the last may be shorter) with seqnos from 0 and
// each chunk's CRC32C, then the empty packet with lastPacketInBlock that Java
// readers expect. Data is written straight from block (see PacketWriter):
// pass the net.Conn itself as w.
//
// offset beyond the block, or a negative offset or length, is ErrRange and
// nothing is sent (the caller should have replied with an error instead).
// When ctx ends, a blocked write is interrupted through w's
// SetWriteDeadline, if it has one, and the error wraps ctx's cause.
//
// SendBlock does not read. Java clients then send a ClientReadStatusProto;
// see ReadClientStatus.
func SendBlock(ctx context.Context, w io.Writer, block []byte, offset, length int64, opts SendOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	size := int64(opts.PacketSize)
	if size == 0 {
		size = DefaultPacketSize
	}
	blen := int64(len(block))
	if offset < 0 || length < 0 || offset > blen {
		return fmt.Errorf("%w: read of %d bytes at offset %d from a %d-byte block", ErrRange, length, offset, blen)
	}
	if opts.Checksums != nil && len(opts.Checksums) != NumChunks(len(block))*ChecksumSize {
		return fmt.Errorf("%w: Checksums is %d bytes for a %d-byte block, want %d",
			ErrOptions, len(opts.Checksums), blen, NumChunks(len(block))*ChecksumSize)
	}
	length = min(length, blen-offset)
	start := chunkStart(offset)
	end := min(blen, chunkEnd(offset+length))

	stop := watch(ctx, writeDeadline(w))
	defer stop()
	fail := func(pos int64, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("transfer: send block stopped at offset %d: %w (%w)", pos, context.Cause(ctx), err)
		}
		return err
	}

	pw := NewPacketWriter(w)
	batch := int(min(writevBatch/size, maxBatchPackets)) + 1 // packets per flush, with the trailer
	pw.arena = make([]byte, 0, batch*(lengthsLen+headerLen+int(size)/ChunkSize*ChecksumSize))
	pw.pending = make([]queued, 0, batch)
	pw.iov = make(net.Buffers, 0, 2*batch)
	seqno := int64(0)
	for pos := start; pos < end; {
		if ctx.Err() != nil {
			return fail(pos, ctx.Err())
		}
		n := min(size, end-pos)
		h := PacketHeader{OffsetInBlock: pos, Seqno: seqno, DataLen: int32(n)}
		data := block[pos : pos+n : pos+n]
		var err error
		if opts.Checksums != nil {
			c0, c1 := pos/ChunkSize*ChecksumSize, chunkEnd(pos+n)/ChunkSize*ChecksumSize
			err = pw.queue(h, opts.Checksums[c0:c1], data, false)
		} else {
			err = pw.queue(h, nil, data, true)
		}
		if err == nil && (pw.data >= writevBatch || len(pw.pending) >= maxBatchPackets) {
			err = pw.flush()
		}
		if err != nil {
			return fail(pos, err)
		}
		pos += n
		seqno++
	}
	err := pw.queue(PacketHeader{OffsetInBlock: end, Seqno: seqno, Last: true}, nil, nil, false)
	if err == nil {
		err = pw.flush()
	}
	if err != nil {
		return fail(end, err)
	}
	return nil
}

const (
	// writevBatch is the data SendBlock gathers into one writev: 16 packets
	// of 64 KiB. One writev per 64 KiB packet costs about half the
	// throughput of a plain write on loopback (BenchmarkSendBlock).
	writevBatch = 1 << 20
	// maxBatchPackets bounds the packets, hence iovecs, per writev.
	maxBatchPackets = 64
)

// maxStatusSize bounds a ClientReadStatusProto (2 bytes in practice).
const maxStatusSize = 64

// ReadClientStatus reads the ClientReadStatusProto (CHECKSUM_OK, or SUCCESS
// when the reader did not verify) that Java readers send after the last
// packet of a READ_BLOCK, so the connection can carry the next op.
//
// It tolerates its absence: at end of stream (colinmarc/hdfs just closes) or
// when the next bytes are an op header instead (an op starts with the byte
// 0x00, a status with its length, 2) it returns (nil, nil) without consuming
// anything. It blocks until the client sends a byte or closes: bound it with
// a read deadline on the connection.
func ReadClientStatus(r *bufio.Reader) (*pb.ClientReadStatusProto, error) {
	b, err := r.Peek(1)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("transfer: read ClientReadStatusProto: %w", err)
	}
	if b[0] == 0 {
		return nil, nil
	}
	m := new(pb.ClientReadStatusProto)
	if err := ReadDelimited(r, maxStatusSize, m); err != nil {
		return nil, err
	}
	return m, nil
}
