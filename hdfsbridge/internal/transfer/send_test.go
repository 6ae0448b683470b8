package transfer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

var blockSizes = []int{0, 1, 511, 512, 513, 65536, 65537, 1<<20 + 3}

// readRanges returns edge and random (offset, length) pairs for a block of
// size n.
func readRanges(r *rand.Rand, n int) [][2]int64 {
	rs := [][2]int64{{0, int64(n)}, {int64(n), 0}, {0, 1 << 40}}
	if n > 0 {
		rs = append(rs, [2]int64{int64(n) - 1, 1}, [2]int64{0, 1})
	}
	for i := 0; i < 6 && n > 0; i++ {
		off := r.Int64N(int64(n) + 1)
		rs = append(rs, [2]int64{off, r.Int64N(int64(n) - off + 1)})
	}
	return rs
}

// javaRead reads a READ_BLOCK data phase the way Java's BlockReaderRemote
// does, checking everything it checks, and returns the bytes the user asked
// for (clipped to the block).
func javaRead(t testing.TB, stream []byte, reply *pb.BlockOpResponseProto, offset, length int64) []byte {
	t.Helper()
	chunkOffset := int64(reply.GetReadOpChecksumInfo().GetChunkOffset())
	require.False(t, chunkOffset < 0 || chunkOffset > offset || chunkOffset <= offset-ChunkSize,
		"BlockReader: error in first chunk offset (%d) startOffset is %d", chunkOffset, offset)
	br := bufio.NewReader(bytes.NewReader(stream))
	needed := length + (offset - chunkOffset)
	last := int64(-1)
	out := []byte{}
	for {
		hd, sums, data, err := DecodePacket(br, MaxPacketSize)
		require.NoError(t, err)
		// PacketHeader.sanityCheck
		require.False(t, hd.DataLen <= 0 && !hd.Last, "empty packet not marked last: %+v", hd)
		require.False(t, hd.Last && hd.DataLen != 0, "last packet with data: %+v", hd)
		require.Equal(t, last+1, hd.Seqno, "seqno")
		if hd.DataLen > 0 {
			last = hd.Seqno
			require.NoError(t, VerifyChecksums(data, sums, hd.OffsetInBlock, hd.Seqno))
			needed -= int64(hd.DataLen)
		}
		if hd.OffsetInBlock < offset {
			data = data[offset-hd.OffsetInBlock:]
		}
		out = append(out, data...)
		if hd.Last {
			break // the block ended before the request was satisfied
		}
		if needed <= 0 { // readTrailingEmptyPacket
			hd, _, _, err := DecodePacket(br, MaxPacketSize)
			require.NoError(t, err)
			require.True(t, hd.Last && hd.DataLen == 0, "Expected empty end-of-read packet! Header: %+v", hd)
			break
		}
	}
	_, err := br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "bytes after the last packet")
	return out[:min(int64(len(out)), length)]
}

// TestSendBlockLayout checks packet boundaries, seqnos, CRCs and the trailing
// packet for every block size and a spread of ranges, and that a Java reader
// accepts the stream.
func TestSendBlockLayout(t *testing.T) {
	r := newRand(t)
	for _, n := range blockSizes {
		block := randBytes(r, n)
		for _, rg := range readRanges(r, n) {
			offset, length := rg[0], rg[1]
			t.Run(fmt.Sprintf("size=%d/off=%d/len=%d", n, offset, length), func(t *testing.T) {
				var buf bytes.Buffer
				require.NoError(t, SendBlock(t.Context(), &buf, block, offset, length, SendOptions{}))
				stream := buf.Bytes()

				start := offset &^ 511
				end := min(int64(n), (min(offset+length, int64(n))+511)&^511)
				br := bufio.NewReader(bytes.NewReader(stream))
				pos, seq := start, int64(0)
				for {
					hd, sums, data, err := DecodePacket(br, MaxPacketSize)
					require.NoError(t, err)
					require.Equal(t, seq, hd.Seqno)
					require.Equal(t, pos, hd.OffsetInBlock)
					require.False(t, hd.SyncBlock)
					if hd.Last {
						require.Zero(t, hd.DataLen)
						require.Empty(t, sums)
						break
					}
					require.Zero(t, hd.OffsetInBlock%ChunkSize, "chunks aligned to the block")
					require.Positive(t, hd.DataLen)
					require.LessOrEqual(t, hd.DataLen, int32(DefaultPacketSize))
					if pos+int64(hd.DataLen) < end {
						require.Equal(t, int32(DefaultPacketSize), hd.DataLen, "only the last data packet is short")
					}
					require.NoError(t, VerifyChecksums(data, sums, pos, seq))
					require.Equal(t, block[pos:pos+int64(hd.DataLen)], data)
					pos += int64(hd.DataLen)
					seq++
				}
				require.Equal(t, end, pos, "data ends at min(len, roundUp512(offset+len))")
				require.Equal(t, (end-start+DefaultPacketSize-1)/DefaultPacketSize, seq, "packet count")

				got := javaRead(t, stream, ReadOpResponse(offset), offset, length)
				want := block[offset:min(int64(n), offset+min(length, int64(n)-offset))]
				require.Equal(t, want, got)
			})
		}
	}
}

// TestSendBlockDoesNotCopy checks that every data byte reaches the writer as
// a slice of the block itself and that nothing else aliases it.
func TestSendBlockDoesNotCopy(t *testing.T) {
	r := newRand(t)
	block := randBytes(r, 3*DefaultPacketSize+700)
	for _, rg := range [][2]int64{{0, int64(len(block))}, {1000, 100000}, {int64(len(block)) - 10, 10}} {
		var w recordingWriter
		require.NoError(t, SendBlock(t.Context(), &w, block, rg[0], rg[1], SendOptions{}))
		var aliased int64
		for _, p := range w.writes {
			inside, overlaps := within(p, block)
			require.Equal(t, inside, overlaps, "a write straddles the block")
			if inside {
				aliased += int64(len(p))
			}
		}
		start := rg[0] &^ 511
		end := min(int64(len(block)), (rg[0]+rg[1]+511)&^511)
		require.Equal(t, end-start, aliased, "data bytes handed over as slices of the block")
	}
}

// TestSendBlockOverTCP sends over a real socket (writev) and reads it back.
func TestSendBlockOverTCP(t *testing.T) {
	r := newRand(t)
	block := randBytes(r, 1<<20+3)
	client, server := tcpPair(t)
	errc := make(chan error, 1)
	go func() { errc <- SendBlock(t.Context(), server, block, 777, int64(len(block)), SendOptions{}) }()
	var got []byte
	br := bufio.NewReader(client)
	for {
		hd, sums, data, err := DecodePacket(br, MaxPacketSize)
		require.NoError(t, err)
		if hd.Last {
			break
		}
		require.NoError(t, VerifyChecksums(data, sums, hd.OffsetInBlock, hd.Seqno))
		got = append(got, data...)
	}
	require.NoError(t, <-errc)
	require.Equal(t, block[512:], got)
}

func TestSendBlockPrecomputedChecksums(t *testing.T) {
	r := newRand(t)
	block := randBytes(r, 200000)
	sums := AppendChecksums(nil, block)
	for _, rg := range readRanges(r, len(block)) {
		var a, b bytes.Buffer
		require.NoError(t, SendBlock(t.Context(), &a, block, rg[0], rg[1], SendOptions{}))
		require.NoError(t, SendBlock(t.Context(), &b, block, rg[0], rg[1], SendOptions{Checksums: sums, PacketSize: DefaultPacketSize}))
		require.Equal(t, a.Bytes(), b.Bytes(), "range %v", rg)
	}
	// Small packets.
	var c bytes.Buffer
	require.NoError(t, SendBlock(t.Context(), &c, block, 0, 2048, SendOptions{PacketSize: 512}))
	br := bufio.NewReader(&c)
	for i := 0; i < 4; i++ {
		hd, _, _, err := DecodePacket(br, MaxPacketSize)
		require.NoError(t, err)
		require.Equal(t, int32(512), hd.DataLen)
	}
}

func TestSendBlockErrors(t *testing.T) {
	block := make([]byte, 1000)
	var w bytes.Buffer
	for _, rg := range [][2]int64{{-1, 10}, {0, -1}, {1001, 0}} {
		err := SendBlock(t.Context(), &w, block, rg[0], rg[1], SendOptions{})
		require.ErrorIs(t, err, ErrRange, "range %v", rg)
	}
	require.Zero(t, w.Len(), "nothing sent for a refused range")

	err := SendBlock(t.Context(), &w, block, 0, 10, SendOptions{PacketSize: 100})
	require.ErrorIs(t, err, ErrOptions)
	err = SendBlock(t.Context(), &w, block, 0, 10, SendOptions{Checksums: make([]byte, 4)})
	require.ErrorIs(t, err, ErrOptions)

	err = SendOptions{PacketSize: -512, Checksums: make([]byte, 3)}.Validate()
	require.ErrorIs(t, err, ErrOptions)
	require.ErrorContains(t, err, "PacketSize -512")
	require.ErrorContains(t, err, "Checksums is 3 bytes")
	require.NoError(t, DefaultSendOptions().Validate())

	// A failing writer's error comes back with the packet named.
	err = SendBlock(t.Context(), failWriter{}, block, 0, 1000, SendOptions{})
	require.ErrorContains(t, err, "write packets 0-1 (offsets 0-1000)")
	require.ErrorIs(t, err, errBroken)
}

var errBroken = errors.New("broken pipe")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBroken }

// TestSendBlockContextCancel checks that cancelling interrupts a send
// blocked on a peer that does not read.
func TestSendBlockContextCancel(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- SendBlock(ctx, server, make([]byte, 1<<20), 0, 1<<20, SendOptions{}) }()
	// Read the first packet, so the send is under way, then stop reading.
	_, _, _, err := DecodePacket(bufio.NewReader(client), MaxPacketSize)
	require.NoError(t, err)
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("SendBlock did not return after cancel")
	}
}
