package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

var flagSeed = flag.Uint64("seed", 0, "seed for randomised tests (0: from the clock)")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// h decodes space-separated hex.
func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// newRand returns a generator seeded from the clock, logging the seed so a
// failure can be replayed with -seed.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if *flagSeed != 0 {
		seed = *flagSeed
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// tcpPair returns the two ends of a loopback TCP connection, closed at
// cleanup.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	r := <-ch
	require.NoError(t, r.err)
	t.Cleanup(func() {
		client.Close()
		r.c.Close()
	})
	return client, r.c
}

// memSink is a BlockSink that insists on contiguous writes, counts syncs and
// can fail on demand.
type memSink struct {
	mu      sync.Mutex
	start   int64
	data    []byte
	syncs   int
	failAt  int64 // fail a write reaching past this offset (0: never)
	onSync  func() error
	lastOff int64
}

func (s *memSink) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := s.start + int64(len(s.data)); off != want {
		return 0, fmt.Errorf("memSink: write at %d, want %d", off, want)
	}
	if s.failAt > 0 && off+int64(len(p)) > s.failAt {
		return 0, errors.New("memSink: injected failure")
	}
	s.data = append(s.data, p...)
	s.lastOff = off
	return len(p), nil
}

func (s *memSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	if s.onSync != nil {
		return s.onSync()
	}
	return nil
}

func (s *memSink) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte{}, s.data...)
}

// encodePacket returns the wire bytes of one packet.
func encodePacket(t testing.TB, hd PacketHeader, sums, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, NewPacketWriter(&buf).WritePacket(hd, sums, data))
	return buf.Bytes()
}

func heartbeat(t testing.TB) []byte {
	return encodePacket(t, PacketHeader{Seqno: HeartbeatSeqno}, nil, nil)
}

// writerPackets returns the packets a client sends to write data at block
// offset start, the way colinmarc/hdfs cuts them: a first packet only up to
// the next chunk boundary when start is inside a chunk, then packetSize
// bytes each, seqnos from firstSeq, then the empty last packet.
func writerPackets(t testing.TB, data []byte, start, firstSeq int64, packetSize int) [][]byte {
	t.Helper()
	var pkts [][]byte
	off, seq := start, firstSeq
	for len(data) > 0 {
		n := min(len(data), packetSize)
		if a := int(off % ChunkSize); a != 0 {
			n = min(n, ChunkSize-a)
		}
		hd := PacketHeader{OffsetInBlock: off, Seqno: seq, DataLen: int32(n)}
		pkts = append(pkts, encodePacket(t, hd, AppendChecksums(nil, data[:n]), data[:n]))
		data = data[n:]
		off += int64(n)
		seq++
	}
	return append(pkts, encodePacket(t, PacketHeader{OffsetInBlock: off, Seqno: seq, Last: true}, nil, nil))
}

// writeResult is what a WRITE_BLOCK data phase produced on both ends.
type writeResult struct {
	length int64
	err    error
	acks   []*pb.PipelineAckProto
	ackErr error // how the client's ack reading ended (nil: EOF)
}

// runWrite plays a client sending stream over net.Pipe to ReceiveBlock and
// collecting every ack until the bridge end closes.
func runWrite(t testing.TB, stream []byte, sink BlockSink, opts ReceiveOptions) writeResult {
	t.Helper()
	return runWriteCtx(t, t.Context(), stream, sink, opts, nil)
}

func runWriteCtx(t testing.TB, ctx context.Context, stream []byte, sink BlockSink, opts ReceiveOptions, onAck func(*pb.PipelineAckProto)) writeResult {
	t.Helper()
	client, server := net.Pipe()
	defer client.Close()
	var wg sync.WaitGroup
	var res writeResult
	wg.Add(2)
	go func() { // client: send everything, then wait for the bridge to finish
		defer wg.Done()
		_, _ = client.Write(stream)
	}()
	go func() { // client: read acks
		defer wg.Done()
		br := bufio.NewReader(client)
		for {
			ack := new(pb.PipelineAckProto)
			if err := ReadDelimited(br, 64, ack); err != nil {
				if !errors.Is(err, io.EOF) {
					res.ackErr = err
				}
				return
			}
			if onAck != nil {
				onAck(ack)
			}
			res.acks = append(res.acks, ack)
		}
	}()
	res.length, res.err = ReceiveBlock(ctx, bufio.NewReader(server), server, sink, opts)
	server.Close()
	wg.Wait()
	return res
}

// runWriteMem runs ReceiveBlock over an in-memory stream that ends where
// stream ends, collecting the acks it writes.
func runWriteMem(t testing.TB, stream []byte, sink BlockSink, opts ReceiveOptions) writeResult {
	t.Helper()
	var acks bytes.Buffer
	var res writeResult
	res.length, res.err = ReceiveBlock(t.Context(), bufio.NewReader(bytes.NewReader(stream)), &acks, sink, opts)
	br := bufio.NewReader(&acks)
	for {
		ack := new(pb.PipelineAckProto)
		if err := ReadDelimited(br, 64, ack); err != nil {
			require.ErrorIs(t, err, io.EOF)
			return res
		}
		res.acks = append(res.acks, ack)
	}
}

func ackSeqnos(acks []*pb.PipelineAckProto) []int64 {
	s := make([]int64, len(acks))
	for i, a := range acks {
		s[i] = a.GetSeqno()
	}
	return s
}

// requireAck checks one ack's exact form: {seqno, reply:[status],
// downstreamAckTimeNanos:0}.
func requireAck(t testing.TB, ack *pb.PipelineAckProto, seqno int64, status pb.Status) {
	t.Helper()
	require.Equal(t, seqno, ack.GetSeqno())
	require.Equal(t, []pb.Status{status}, ack.GetReply())
	require.NotNil(t, ack.DownstreamAckTimeNanos)
	require.Zero(t, ack.GetDownstreamAckTimeNanos())
	require.Empty(t, ack.GetFlag())
}
