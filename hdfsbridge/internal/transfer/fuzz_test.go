package transfer

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

var flagRewrite = flag.Bool("rewrite", false, "rewrite the committed fuzz seeds under testdata/fuzz")

// typed reports whether err is one this package documents: io.EOF at a
// boundary or one wrapping a sentinel.
func typed(err error) bool {
	if err == io.EOF {
		return true
	}
	for _, s := range []error{ErrVersion, ErrUnsupportedOp, ErrTooLarge, ErrMalformed, ErrTruncated,
		ErrChecksum, ErrSequence, ErrOffset, ErrRange, ErrShortReply, ErrOptions, ErrSink} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fuzzMax maps a fuzzed bound to one in [0, 1 MiB], so small and tiny
// bounds are explored too.
func fuzzMax(m uint32) int { return int(m % (1<<20 + 1)) }

func FuzzDecodePacket(f *testing.F) {
	for _, s := range packetSeeds(f) {
		f.Add(s.in, s.max)
	}
	f.Fuzz(func(t *testing.T, in []byte, maxIn uint32) {
		max := fuzzMax(maxIn)
		br := bufio.NewReader(bytes.NewReader(in))
		for i := 0; ; i++ {
			hd, sums, data, err := DecodePacket(br, max)
			if err != nil {
				if !typed(err) {
					t.Fatalf("packet %d: untyped error %T: %v", i, err, err)
				}
				if err == io.EOF && i == 0 && len(in) != 0 {
					t.Fatalf("io.EOF with %d bytes of input", len(in))
				}
				return
			}
			// Bounded: PLEN = 4 + checksums + data <= max, and the slices
			// end where they should.
			if 4+len(sums)+len(data) > max {
				t.Fatalf("packet of %d bytes passed bound %d", 4+len(sums)+len(data), max)
			}
			if cap(sums) != len(sums) || cap(data) != len(data) || int(hd.DataLen) != len(data) {
				t.Fatalf("slices: checksums %d/%d, data %d/%d, dataLen %d", len(sums), cap(sums), len(data), cap(data), hd.DataLen)
			}
			// What decodes re-encodes and decodes to the same packet.
			var buf bytes.Buffer
			if err := NewPacketWriter(&buf).WritePacket(hd, sums, data); err != nil {
				t.Fatalf("re-encode %+v: %v", hd, err)
			}
			hd2, sums2, data2, err := DecodePacket(bufio.NewReader(&buf), max)
			if err != nil || hd2 != hd || !bytes.Equal(sums, sums2) || !bytes.Equal(data, data2) {
				t.Fatalf("round trip: %+v %v -> %+v", hd, err, hd2)
			}
		}
	})
}

func FuzzReadOp(f *testing.F) {
	for _, s := range opSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 4096
		br := bufio.NewReader(bytes.NewReader(in))
		for i := 0; ; i++ {
			op, msg, err := ReadOp(br, max)
			if err != nil {
				if !typed(err) {
					t.Fatalf("request %d: untyped error %T: %v", i, err, err)
				}
				var ue *UnsupportedOpError
				if errors.As(err, &ue) && ue.Consumed {
					continue // still in step
				}
				return
			}
			if len(msg) > max {
				t.Fatalf("message of %d bytes passed bound %d", len(msg), max)
			}
			if _, err := DecodeOp(op, msg); err != nil && !typed(err) {
				t.Fatalf("decode %s: untyped error %T: %v", op, err, err)
			}
		}
	})
}

// FuzzReceiveBlock runs the WRITE_BLOCK data phase on arbitrary bytes: no
// panic, typed errors, contiguous sink writes, well-formed acks.
func FuzzReceiveBlock(f *testing.F) {
	for _, s := range packetSeeds(f) {
		f.Add(s.in, uint16(0))
	}
	f.Add(bytes.Join(writerPackets(f, []byte("appended"), 100, 0, DefaultPacketSize), nil), uint16(100))
	f.Fuzz(func(t *testing.T, in []byte, start uint16) {
		sink := &memSink{start: int64(start)}
		var acks bytes.Buffer
		n, err := ReceiveBlock(t.Context(), bufio.NewReader(bytes.NewReader(in)), &acks, sink,
			ReceiveOptions{StartOffset: int64(start), MaxPacketSize: 1 << 16})
		if err != nil && (err == io.EOF || !typed(err)) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if n != int64(start)+int64(len(sink.data)) {
			t.Fatalf("length %d, sink holds %d from %d", n, len(sink.data), start)
		}
		br := bufio.NewReader(&acks)
		for {
			ack := new(pb.PipelineAckProto)
			if err := ReadDelimited(br, 64, ack); err != nil {
				if err != io.EOF {
					t.Fatalf("ack: %v", err)
				}
				break
			}
			if len(ack.GetReply()) != 1 {
				t.Fatalf("ack %v", ack)
			}
		}
	})
}

type packetSeed struct {
	name string
	in   []byte
	max  uint32
}

func packetSeeds(tb testing.TB) []packetSeed {
	data := bytes.Repeat([]byte("0123456789"), 60)
	full := bytes.Join(writerPackets(tb, data, 0, 1, 512), nil)
	one := encodePacket(tb, PacketHeader{OffsetInBlock: 512, Seqno: 3, DataLen: 5, SyncBlock: true},
		AppendChecksums(nil, data[:5]), data[:5])
	bad := bytes.Clone(one)
	bad[len(bad)-1] ^= 1
	return []packetSeed{
		{"block-of-two-packets", full, MaxPacketSize},
		{"sync-packet", one, 1 << 20},
		{"corrupt-data", bad, 1 << 20},
		{"heartbeat", heartbeat(tb), 4},
		{"trailer", encodePacket(tb, PacketHeader{OffsetInBlock: 4, Seqno: 1, Last: true}, nil, nil), 1 << 20},
		{"tight-bound", one, uint32(4 + 4 + 5)},
		{"plen-4gib", h(tb, "ffffffff 0019 09 0000000000000000 11 0000000000000000 18 00 25 00000040"), MaxPacketSize},
		{"plen-3", h(tb, "00000003 0000"), 1 << 20},
		{"datalen-over-plen", h(tb, "00000004 0019 09 0000000000000000 11 0000000000000000 18 00 25 08000000"), 1 << 20},
		{"truncated-header", one[:20], 1 << 20},
		{"truncated-data", one[:len(one)-2], 1 << 20},
		{"empty", nil, 1 << 20},
	}
}

func opSeeds(tb testing.TB) map[string][]byte {
	read := opFrame(tb, OpReadBlock, readBlockOp())
	return map[string][]byte{
		"read-block":         read,
		"two-requests":       append(bytes.Clone(read), read...),
		"checksum-block":     opFrame(tb, OpBlockChecksum, &pb.OpBlockChecksumProto{Header: readBlockOp().Header.BaseHeader}),
		"short-circuit-fds":  append([]byte{0x00, 0x1c, 87, 0x03, 0x0a, 0x01, 0x00}, read...),
		"version-27":         append([]byte{0x00, 27}, read[2:]...),
		"unknown-op":         []byte{0x00, 0x1c, 99, 0x00},
		"huge-length":        []byte{0x00, 0x1c, 81, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"varint-overflow":    []byte{0x00, 0x1c, 81, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"truncated-request":  read[:len(read)-3],
		"empty-write-block":  []byte{0x00, 0x1c, 80, 0x00},
		"http-on-data-port":  []byte("GET / HTTP/1.1\r\n\r\n"),
		"read-status-and-op": append([]byte{0x02, 0x08, 0x06}, read...),
	}
}

// TestFuzzSeeds checks that every fuzz target has its seeds committed under
// testdata/fuzz (go test fuzz v1), and rewrites them with -rewrite.
func TestFuzzSeeds(t *testing.T) {
	files := map[string]map[string]string{
		"FuzzDecodePacket": {},
		"FuzzReadOp":       {},
		"FuzzReceiveBlock": {},
	}
	for _, s := range packetSeeds(t) {
		files["FuzzDecodePacket"][s.name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint32(%d)\n", s.in, s.max)
		files["FuzzReceiveBlock"][s.name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(0)\n", s.in)
	}
	for name, in := range opSeeds(t) {
		files["FuzzReadOp"][name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
	}
	for target, seeds := range files {
		dir := filepath.Join("testdata", "fuzz", target)
		if *flagRewrite {
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for name, body := range seeds {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
			}
		}
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "seeds missing: run go test -run TestFuzzSeeds -rewrite")
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
			body, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(body), "go test fuzz v1\n"), "%s/%s", target, e.Name())
		}
		for name := range seeds {
			require.True(t, slices.Contains(names, name), "%s seed %s not committed; run with -rewrite", target, name)
		}
	}
}
