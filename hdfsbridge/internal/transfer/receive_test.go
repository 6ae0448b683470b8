package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

func join(pkts ...[]byte) []byte { return bytes.Join(pkts, nil) }

// packetSeqnos returns the seqnos of an encoded stream, in order.
func packetSeqnos(t testing.TB, stream []byte) []int64 {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(stream))
	var s []int64
	for {
		hd, _, _, err := DecodePacket(br, MaxPacketSize)
		if err == io.EOF {
			return s
		}
		require.NoError(t, err)
		s = append(s, hd.Seqno)
	}
}

// TestReceiveBlock writes blocks of every size, new and appended (the
// existing length random, often inside a chunk), with colinmarc's (1) and
// Java's (0, or a later block's running count) first seqnos and heartbeats
// at random places, and checks the stored bytes and every ack.
func TestReceiveBlock(t *testing.T) {
	r := newRand(t)
	for _, n := range blockSizes {
		for _, firstSeq := range []int64{0, 1, 2049} {
			for _, start := range []int64{0, r.Int64N(3000), 128<<20 - 1000 - int64(r.IntN(512))} {
				t.Run(fmt.Sprintf("size=%d/seq=%d/start=%d", n, firstSeq, start), func(t *testing.T) {
					data := randBytes(r, n)
					pkts := writerPackets(t, data, start, firstSeq, DefaultPacketSize)
					var withHB [][]byte
					for _, p := range pkts {
						for r.IntN(3) == 0 {
							withHB = append(withHB, heartbeat(t))
						}
						withHB = append(withHB, p)
					}
					stream := join(withHB...)
					sink := &memSink{start: start}
					res := runWrite(t, stream, sink, ReceiveOptions{StartOffset: start})
					require.NoError(t, res.err)
					require.NoError(t, res.ackErr)
					require.Equal(t, start+int64(n), res.length)
					require.Equal(t, data, sink.bytes())
					require.Equal(t, 1, sink.syncs, "synced once, for the last packet")

					// One ack per packet, heartbeats included, in order.
					require.Equal(t, packetSeqnos(t, stream), ackSeqnos(res.acks))
					for _, a := range res.acks {
						requireAck(t, a, a.GetSeqno(), pb.Status_SUCCESS)
					}
				})
			}
		}
	}
}

// TestSendReceiveRoundTrip feeds SendBlock's output to ReceiveBlock over a
// loopback TCP connection: a read stream from a chunk boundary is a valid
// write stream (seqnos from 0, contiguous, ending with the empty last
// packet).
func TestSendReceiveRoundTrip(t *testing.T) {
	r := newRand(t)
	for _, n := range blockSizes {
		block := randBytes(r, n)
		for _, rg := range readRanges(r, n) {
			t.Run(fmt.Sprintf("size=%d/off=%d/len=%d", n, rg[0], rg[1]), func(t *testing.T) {
				client, server := tcpPair(t)
				start := rg[0] &^ 511
				end := min(int64(n), (min(rg[0]+rg[1], int64(n))+511)&^511)
				var wg sync.WaitGroup
				var sendErr error
				var acks []int64
				wg.Add(1)
				go func() {
					defer wg.Done()
					if sendErr = SendBlock(t.Context(), server, block, rg[0], rg[1], SendOptions{}); sendErr != nil {
						return
					}
					br := bufio.NewReader(server)
					for {
						ack := new(pb.PipelineAckProto)
						if err := ReadDelimited(br, 64, ack); err != nil {
							if err != io.EOF {
								sendErr = err
							}
							return
						}
						acks = append(acks, ack.GetSeqno())
						if int64(len(acks)) == (end-start+DefaultPacketSize-1)/DefaultPacketSize+1 {
							return
						}
					}
				}()
				sink := &memSink{start: start}
				length, err := ReceiveBlock(t.Context(), bufio.NewReader(client), client, sink, ReceiveOptions{StartOffset: start})
				client.Close() // the sender's ack reading ends, whatever happened
				wg.Wait()
				require.NoError(t, err)
				require.NoError(t, sendErr)
				require.Equal(t, end, length)
				require.Equal(t, block[start:end], sink.bytes())
				for i, s := range acks {
					require.Equal(t, int64(i), s)
				}
			})
		}
	}
}

// TestReceiveBlockResend plays Java's hflush: the partial chunk at the end
// of a flushed packet is sent again, from its chunk start, in the next
// packet; only the new bytes reach the sink, contiguously.
func TestReceiveBlockResend(t *testing.T) {
	r := newRand(t)
	data := randBytes(r, 2000)
	pkt := func(seq, off, end int64, sync bool) []byte {
		d := data[off:end]
		return encodePacket(t, PacketHeader{OffsetInBlock: off, Seqno: seq, DataLen: int32(len(d)), SyncBlock: sync}, AppendChecksums(nil, d), d)
	}
	stream := join(
		pkt(0, 0, 700, true),     // hflush at 700 (chunk 512..1024 partial)
		pkt(1, 512, 900, true),   // re-send from 512, new bytes 700..900
		pkt(2, 512, 900, true),   // hsync again with nothing new
		pkt(3, 512, 2000, false), // the rest
		encodePacket(t, PacketHeader{OffsetInBlock: 2000, Seqno: 4, Last: true}, nil, nil),
	)
	sink := &memSink{}
	res := runWrite(t, stream, sink, ReceiveOptions{})
	require.NoError(t, res.err)
	require.Equal(t, int64(2000), res.length)
	require.Equal(t, data, sink.bytes())
	require.Equal(t, []int64{0, 1, 2, 3, 4}, ackSeqnos(res.acks))
	require.Equal(t, 4, sink.syncs, "three syncBlock packets and the last")

	// Appending at 100: the first packet fills the partial chunk only; a
	// re-send goes back to 100, not before.
	sink = &memSink{start: 100}
	stream = join(
		pkt(0, 100, 110, true),
		pkt(1, 100, 512, false),
		pkt(2, 512, 600, false),
		encodePacket(t, PacketHeader{OffsetInBlock: 600, Seqno: 3, Last: true}, nil, nil),
	)
	res = runWrite(t, stream, sink, ReceiveOptions{StartOffset: 100})
	require.NoError(t, res.err)
	require.Equal(t, data[100:600], sink.bytes())
}

// TestReceiveBlockChecksumError corrupts one byte of one packet and checks
// the ERROR_CHECKSUM ack, the error naming the chunk, and that nothing of
// that packet was stored.
func TestReceiveBlockChecksumError(t *testing.T) {
	r := newRand(t)
	data := randBytes(r, 5*DefaultPacketSize+100)
	pkts := writerPackets(t, data, 0, 1, DefaultPacketSize)
	bad := 2 + r.IntN(3) // packet index (seqno bad+1)
	pos := r.IntN(DefaultPacketSize)
	pkts[bad][lengthsLen+headerLen+ChecksumSize*DefaultPacketSize/ChunkSize+pos] ^= 0x40

	sink := &memSink{}
	res := runWrite(t, join(pkts...), sink, ReceiveOptions{})
	var ce *ChecksumError
	require.ErrorAs(t, res.err, &ce)
	require.ErrorIs(t, res.err, ErrChecksum)
	wantOff := int64(bad*DefaultPacketSize + pos&^511)
	require.Equal(t, wantOff, ce.Offset)
	require.Equal(t, int64(bad+1), ce.Seqno)
	require.Contains(t, res.err.Error(), fmt.Sprintf("block offset %d", wantOff))

	require.Len(t, res.acks, bad+1)
	for i, a := range res.acks[:bad] {
		requireAck(t, a, int64(i+1), pb.Status_SUCCESS)
	}
	requireAck(t, res.acks[bad], int64(bad+1), pb.Status_ERROR_CHECKSUM)
	require.Equal(t, data[:bad*DefaultPacketSize], sink.bytes())
	require.Equal(t, int64(bad*DefaultPacketSize), res.length)

	// A corrupted CRC (rather than data) is caught the same way.
	pkts = writerPackets(t, data[:1000], 0, 0, DefaultPacketSize)
	pkts[0][lengthsLen+headerLen+4] ^= 1 // second CRC
	res = runWrite(t, join(pkts...), &memSink{}, ReceiveOptions{})
	require.ErrorAs(t, res.err, &ce)
	require.Equal(t, int64(512), ce.Offset)
	require.Equal(t, 488, ce.Len)
	requireAck(t, res.acks[0], 0, pb.Status_ERROR_CHECKSUM)
}

func TestReceiveBlockSequence(t *testing.T) {
	data := make([]byte, 4*DefaultPacketSize)
	pkts := writerPackets(t, data, 0, 1, DefaultPacketSize) // seqnos 1..5
	tests := []struct {
		name   string
		stream []byte
		got    int64
		want   int64
		acked  int
	}{
		{"swapped", join(pkts[0], pkts[2], pkts[1]), 3, 2, 1},
		{"duplicate", join(pkts[0], pkts[1], pkts[1]), 2, 3, 2},
		{"skipped", join(pkts[0], pkts[1], pkts[3]), 4, 3, 2},
		{"first negative", join(encodePacket(t, PacketHeader{Seqno: -5, DataLen: 0}, nil, nil)), -5, firstSeqno, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runWrite(t, tc.stream, &memSink{}, ReceiveOptions{})
			var se *SeqnoError
			require.ErrorAs(t, res.err, &se)
			require.ErrorIs(t, res.err, ErrSequence)
			require.Equal(t, tc.got, se.Got)
			require.Equal(t, tc.want, se.Want)
			require.Len(t, res.acks, tc.acked, "no ack for the refused packet")
		})
	}
}

func TestReceiveBlockOffsets(t *testing.T) {
	d := bytes.Repeat([]byte{7}, 1024)
	pkt := func(seq, off int64, n int) []byte {
		return encodePacket(t, PacketHeader{OffsetInBlock: off, Seqno: seq, DataLen: int32(n)}, AppendChecksums(nil, d[:n]), d[:n])
	}
	tests := []struct {
		name   string
		start  int64
		stream []byte
		reason string
	}{
		{"gap", 0, join(pkt(0, 0, 512), pkt(1, 1024, 512)), "leaves a gap"},
		{"first not at start", 100, join(pkt(0, 0, 512)), "rewinds before 100"},
		{"rewind past a full chunk", 0, join(pkt(0, 0, 1024), pkt(1, 512, 512)), "rewinds before 1024"},
		{"rewind into old data", 700, join(pkt(0, 700, 100), pkt(1, 512, 512)), "rewinds before 700"},
		{"partial chunk crossing a boundary", 100, join(pkt(0, 100, 500)), "must end by the chunk's end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runWrite(t, tc.stream, &memSink{start: tc.start}, ReceiveOptions{StartOffset: tc.start})
			var oe *OffsetError
			require.ErrorAs(t, res.err, &oe)
			require.ErrorIs(t, res.err, ErrOffset)
			require.Contains(t, oe.Reason, tc.reason)
		})
	}

	// The block limit.
	res := runWrite(t, join(pkt(0, 0, 1024), pkt(1, 1024, 1024)), &memSink{}, ReceiveOptions{MaxBlockLen: 1500})
	require.ErrorIs(t, res.err, ErrRange)
	require.ErrorContains(t, res.err, "exceeds the block limit 1500")
	require.Equal(t, int64(1024), res.length)
}

func TestReceiveBlockMalformed(t *testing.T) {
	d := make([]byte, 600)
	sums := AppendChecksums(nil, d)
	oversized := binary.BigEndian.AppendUint32(nil, math.MaxUint32)
	oversized = binary.BigEndian.AppendUint16(oversized, 25)
	oversized = append(oversized, AppendHeader(nil, PacketHeader{Seqno: 0, DataLen: 1 << 30})...)
	tests := []struct {
		name   string
		stream []byte
		opts   ReceiveOptions
		want   error
		msg    string
	}{
		{"PLEN 4 GiB", oversized, ReceiveOptions{}, ErrTooLarge, "packet length 4294967295 exceeds 16777216"},
		{"PLEN over MaxPacketSize", join(writerPackets(t, make([]byte, 70000), 0, 0, DefaultPacketSize)...),
			ReceiveOptions{MaxPacketSize: 4096}, ErrTooLarge, "exceeds 4096"},
		{"last packet with data", encodePacket(t, PacketHeader{Seqno: 0, Last: true, DataLen: 600}, sums, d), ReceiveOptions{}, ErrMalformed, "last packet 0 carries 600"},
		{"heartbeat with data", encodePacket(t, PacketHeader{Seqno: -1, DataLen: 600}, sums, d), ReceiveOptions{}, ErrMalformed, "heartbeat with 608"},
		{"missing checksums", encodePacket(t, PacketHeader{Seqno: 0, DataLen: 600}, nil, d), ReceiveOptions{}, ErrMalformed, "0 checksum bytes for 600"},
		{"extra checksums", encodePacket(t, PacketHeader{Seqno: 0, DataLen: 600}, append(sums, 0, 0, 0, 0), d), ReceiveOptions{}, ErrMalformed, "12 checksum bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runWrite(t, tc.stream, &memSink{}, tc.opts)
			require.ErrorIs(t, res.err, tc.want)
			require.ErrorContains(t, res.err, tc.msg)
			require.Empty(t, res.acks)
		})
	}
}

// TestReceiveBlockTruncated cuts a valid stream at random places (and at
// every packet boundary): the result is always ErrTruncated, never success.
func TestReceiveBlockTruncated(t *testing.T) {
	r := newRand(t)
	data := randBytes(r, 3*DefaultPacketSize+5)
	pkts := writerPackets(t, data, 0, 1, DefaultPacketSize)
	stream := join(pkts...)
	var cuts []int
	at := 0
	for _, p := range pkts[:len(pkts)-1] {
		at += len(p)
		cuts = append(cuts, at)
	}
	for i := 0; i < 20; i++ {
		cuts = append(cuts, r.IntN(len(stream)))
	}
	cuts = append(cuts, 0, len(stream)-1)
	for _, cut := range cuts {
		res := runWriteMem(t, stream[:cut], &memSink{}, ReceiveOptions{})
		require.ErrorIs(t, res.err, ErrTruncated, "cut at %d", cut)
		require.ErrorIs(t, res.err, io.ErrUnexpectedEOF, "cut at %d", cut)
		require.LessOrEqual(t, res.length, int64(len(data)))
		require.Less(t, len(res.acks), len(pkts), "the last packet was never acknowledged")
	}
	// The whole stream succeeds the same way.
	res := runWriteMem(t, stream, &memSink{}, ReceiveOptions{})
	require.NoError(t, res.err)
	require.Len(t, res.acks, len(pkts))
}

type syncFailer struct{ memSink }

func TestReceiveBlockSink(t *testing.T) {
	data := make([]byte, 3*DefaultPacketSize)
	stream := join(writerPackets(t, data, 0, 1, DefaultPacketSize)...)

	// A failing write: ERROR ack for that packet, ErrSink.
	sink := &memSink{failAt: DefaultPacketSize + 1}
	res := runWrite(t, stream, sink, ReceiveOptions{})
	require.ErrorIs(t, res.err, ErrSink)
	require.ErrorContains(t, res.err, "injected failure")
	require.Equal(t, int64(DefaultPacketSize), res.length)
	require.Len(t, res.acks, 2)
	requireAck(t, res.acks[0], 1, pb.Status_SUCCESS)
	requireAck(t, res.acks[1], 2, pb.Status_ERROR)

	// A failing sync before the last ack.
	sink = &memSink{onSync: func() error { return errors.New("fsync failed") }}
	res = runWrite(t, stream, sink, ReceiveOptions{})
	require.ErrorIs(t, res.err, ErrSink)
	require.ErrorContains(t, res.err, "fsync failed")
	requireAck(t, res.acks[len(res.acks)-1], 4, pb.Status_ERROR)

	// Sync happens before the last ack is sent: the client (which calls
	// complete on the last ack) never sees it before the data is synced.
	var lastAcked atomic.Bool
	sink = &memSink{}
	sink.onSync = func() error {
		if lastAcked.Load() {
			return errors.New("synced after the last ack")
		}
		return nil
	}
	res = runWriteCtx(t, t.Context(), stream, sink, ReceiveOptions{}, func(a *pb.PipelineAckProto) {
		if a.GetSeqno() == 4 {
			lastAcked.Store(true)
		}
	})
	require.NoError(t, res.err)
	require.True(t, lastAcked.Load())

	// A sink without Sync is fine; a short write is an error.
	res = runWrite(t, stream, shortSink{}, ReceiveOptions{})
	require.ErrorIs(t, res.err, io.ErrShortWrite)
}

type shortSink struct{}

func (shortSink) WriteAt(p []byte, off int64) (int, error) { return len(p) / 2, nil }

func TestReceiveOptions(t *testing.T) {
	require.NoError(t, DefaultReceiveOptions().Validate())
	require.NoError(t, ReceiveOptions{}.Validate())
	err := ReceiveOptions{StartOffset: -1, MaxPacketSize: 2, MaxBlockLen: -3}.Validate()
	require.ErrorIs(t, err, ErrOptions)
	for _, s := range []string{"StartOffset -1", "MaxPacketSize 2", "MaxBlockLen -3"} {
		require.ErrorContains(t, err, s)
	}
	err = ReceiveOptions{StartOffset: 10, MaxBlockLen: 5}.Validate()
	require.ErrorContains(t, err, "exceeds MaxBlockLen")

	n, err := ReceiveBlock(t.Context(), bufio.NewReader(bytes.NewReader(nil)), io.Discard, &memSink{}, ReceiveOptions{StartOffset: -1})
	require.ErrorIs(t, err, ErrOptions)
	require.Equal(t, int64(-1), n)
}

// TestReceiveBlockContextCancel checks that cancelling interrupts a receive
// waiting for a packet that does not come.
func TestReceiveBlockContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	data := make([]byte, 1000)
	pkts := writerPackets(t, data, 0, 1, DefaultPacketSize)
	var once sync.Once
	done := make(chan writeResult, 1)
	go func() {
		// Only the first packet; then the client goes quiet. Cancel after
		// its ack.
		done <- runWriteCtx(t, ctx, pkts[0], &memSink{}, ReceiveOptions{}, func(*pb.PipelineAckProto) { once.Do(cancel) })
	}()
	select {
	case res := <-done:
		require.ErrorIs(t, res.err, context.Canceled)
		require.Equal(t, int64(1000), res.length)
	case <-time.After(10 * time.Second):
		t.Fatal("ReceiveBlock did not return after cancel")
	}
}

// TestReceiveBlockRandomPacketSizes writes with packets of random sizes (any
// multiple of 512, as a Java client with another dfs.client-write-packet-size
// would) over TCP.
func TestReceiveBlockRandomPacketSizes(t *testing.T) {
	r := newRand(t)
	data := randBytes(r, 1<<20+3)
	var pkts [][]byte
	off, seq := 0, int64(0)
	for off < len(data) {
		n := min(len(data)-off, (1+r.IntN(256))*ChunkSize)
		d := data[off : off+n]
		pkts = append(pkts, encodePacket(t, PacketHeader{OffsetInBlock: int64(off), Seqno: seq, DataLen: int32(n)}, AppendChecksums(nil, d), d))
		off += n
		seq++
	}
	pkts = append(pkts, encodePacket(t, PacketHeader{OffsetInBlock: int64(off), Seqno: seq, Last: true}, nil, nil))

	client, server := tcpPair(t)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = client.Write(join(pkts...)) }()
	var acks int
	go func() {
		defer wg.Done()
		br := bufio.NewReader(client)
		for acks < len(pkts) {
			if err := ReadDelimited(br, 64, new(pb.PipelineAckProto)); err != nil {
				return
			}
			acks++
		}
	}()
	sink := &memSink{}
	n, err := ReceiveBlock(t.Context(), bufio.NewReader(server), server, sink, ReceiveOptions{})
	server.Close()
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.Equal(t, data, sink.bytes())
	require.Equal(t, len(pkts), acks)
}
