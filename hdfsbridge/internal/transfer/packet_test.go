package transfer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

func headerProto(hd PacketHeader) *pb.PacketHeaderProto {
	m := &pb.PacketHeaderProto{
		OffsetInBlock:     proto.Int64(hd.OffsetInBlock),
		Seqno:             proto.Int64(hd.Seqno),
		LastPacketInBlock: proto.Bool(hd.Last),
		DataLen:           proto.Int32(hd.DataLen),
	}
	if hd.SyncBlock {
		m.SyncBlock = proto.Bool(true)
	}
	return m
}

func TestGoldenPacketHeader(t *testing.T) {
	// offsetInBlock sfixed64 (tag 09), seqno sfixed64 (11), lastPacketInBlock
	// (18), dataLen sfixed32 (25), little-endian; the same bytes as the
	// hadooppb golden test.
	got := AppendHeader(nil, PacketHeader{OffsetInBlock: 512, Seqno: 1, DataLen: 3})
	require.Equal(t, h(t, "09 00 02 00 00 00 00 00 00  11 01 00 00 00 00 00 00 00  18 00  25 03 00 00 00"), got)

	// syncBlock is sent only when true (Java's PacketHeader).
	got = AppendHeader(nil, PacketHeader{OffsetInBlock: 0, Seqno: 7, DataLen: 0, SyncBlock: true})
	require.Equal(t, h(t, "09 0000000000000000  11 0700000000000000  18 00  25 00000000  28 01"), got)

	// Byte for byte what proto.Marshal produces, for any values.
	r := newRand(t)
	for i := 0; i < 1000; i++ {
		hd := PacketHeader{
			OffsetInBlock: int64(r.Uint64()),
			Seqno:         int64(r.Uint64()),
			Last:          r.IntN(2) == 0,
			DataLen:       int32(r.Uint32()),
			SyncBlock:     r.IntN(2) == 0,
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(headerProto(hd))
		require.NoError(t, err)
		require.Equal(t, want, AppendHeader(nil, hd), "%+v", hd)
	}
}

func TestGoldenTrailingPacket(t *testing.T) {
	// The empty packet that ends a READ_BLOCK (and a WRITE_BLOCK): PLEN 4,
	// header length 25, lastPacketInBlock true, dataLen 0, no checksums.
	got := encodePacket(t, PacketHeader{OffsetInBlock: 4, Seqno: 1, Last: true}, nil, nil)
	require.Equal(t, hex.EncodeToString(h(t,
		"00000004 0019 09 0400000000000000 11 0100000000000000 18 01 25 00000000")),
		hex.EncodeToString(got))

	// A one-byte data packet: PLEN 4+4+1, one CRC32C.
	got = encodePacket(t, PacketHeader{Seqno: 0, DataLen: 1}, AppendChecksums(nil, []byte("a")), []byte("a"))
	require.Equal(t, hex.EncodeToString(h(t,
		"00000009 0019 09 0000000000000000 11 0000000000000000 18 00 25 01000000 c1d04330 61")),
		hex.EncodeToString(got))

	// A heartbeat, as colinmarc/hdfs sends it.
	require.Equal(t, hex.EncodeToString(h(t,
		"00000004 0019 09 0000000000000000 11 ffffffffffffffff 18 00 25 00000000")),
		hex.EncodeToString(heartbeat(t)))
}

func TestGoldenAck(t *testing.T) {
	tests := []struct {
		seqno  int64
		status pb.Status
		want   string
	}{
		{5, pb.Status_SUCCESS, "06 08 0a 10 00 18 00"},              // seqno sint64: zigzag 5 = 10
		{0, pb.Status_SUCCESS, "06 08 00 10 00 18 00"},              // still over 5 bytes
		{-1, pb.Status_SUCCESS, "06 08 01 10 00 18 00"},             // heartbeat
		{3, pb.Status_ERROR_CHECKSUM, "06 08 06 10 02 18 00"},       // checksum failure
		{1 << 20, pb.Status_ERROR, "09 08 80 80 80 01 10 01 18 00"}, // multi-byte seqno
	}
	for _, tc := range tests {
		got := appendAck(nil, tc.seqno, tc.status)
		require.Equal(t, hex.EncodeToString(h(t, tc.want)), hex.EncodeToString(got), "seqno %d", tc.seqno)
		require.GreaterOrEqual(t, len(got), MinReplySize)
	}
	// The same bytes protodelim gives for PipelineAckProto, for any seqno.
	r := newRand(t)
	for i := 0; i < 1000; i++ {
		seqno := int64(r.Uint64()) >> r.IntN(64)
		status := pb.Status(r.IntN(14))
		var want bytes.Buffer
		_, err := protodelim.MarshalOptions{MarshalOptions: proto.MarshalOptions{Deterministic: true}}.MarshalTo(&want, &pb.PipelineAckProto{
			Seqno:                  proto.Int64(seqno),
			Reply:                  []pb.Status{status},
			DownstreamAckTimeNanos: proto.Uint64(0),
		})
		require.NoError(t, err)
		require.Equal(t, want.Bytes(), appendAck(nil, seqno, status), "seqno %d", seqno)
	}
}

func TestDecodePacket(t *testing.T) {
	r := newRand(t)
	data := randBytes(r, 1000)
	sums := AppendChecksums(nil, data)
	in := encodePacket(t, PacketHeader{OffsetInBlock: 1024, Seqno: 9, DataLen: 1000, SyncBlock: true}, sums, data)
	in = append(in, heartbeat(t)...)
	br := bufio.NewReader(bytes.NewReader(in))

	hd, gotSums, gotData, err := DecodePacket(br, MaxPacketSize)
	require.NoError(t, err)
	require.Equal(t, PacketHeader{OffsetInBlock: 1024, Seqno: 9, DataLen: 1000, SyncBlock: true}, hd)
	require.Equal(t, sums, gotSums)
	require.Equal(t, data, gotData)
	require.Equal(t, len(gotSums), cap(gotSums), "checksums must not reach into data")

	hd, gotSums, gotData, err = DecodePacket(br, MaxPacketSize)
	require.NoError(t, err)
	require.True(t, hd.Heartbeat())
	require.Empty(t, gotSums)
	require.Empty(t, gotData)

	_, _, _, err = DecodePacket(br, MaxPacketSize)
	require.Same(t, io.EOF, err)
}

func TestDecodePacketErrors(t *testing.T) {
	good := encodePacket(t, PacketHeader{Seqno: 0, DataLen: 3}, AppendChecksums(nil, []byte("abc")), []byte("abc"))
	withLens := func(plen uint32, hlen uint16, rest []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, plen)
		b = binary.BigEndian.AppendUint16(b, hlen)
		return append(b, rest...)
	}
	hdr := AppendHeader(nil, PacketHeader{Seqno: 0, DataLen: 3})
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
		msg  string
	}{
		{"PLEN under 4", withLens(3, 25, hdr), 0, ErrMalformed, "packet length 3 is under 4"},
		{"PLEN 4 GiB", withLens(math.MaxUint32, 25, hdr), 0, ErrTooLarge, "packet length 4294967295 exceeds 16777216"},
		{"PLEN over a small bound", good, 8, ErrTooLarge, "packet length 11 exceeds 8"},
		{"empty header", withLens(4, 0, nil), 0, ErrMalformed, "required field"},
		{"garbage header", withLens(4, 3, []byte{0xff, 0xff, 0xff}), 0, ErrMalformed, "packet header (3 bytes)"},
		{"dataLen over payload", withLens(4+3, 25, AppendHeader(nil, PacketHeader{DataLen: 8})), 0, ErrMalformed, "dataLen 8 with 3 payload bytes"},
		{"negative dataLen", withLens(4, 25, AppendHeader(nil, PacketHeader{DataLen: -1})), 0, ErrMalformed, "dataLen -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = MaxPacketSize
			}
			_, _, _, err := DecodePacket(bufio.NewReader(bytes.NewReader(tc.in)), max)
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, tc.msg)
		})
	}

	for cut := 1; cut < len(good); cut++ {
		_, _, _, err := DecodePacket(bufio.NewReader(bytes.NewReader(good[:cut])), MaxPacketSize)
		require.ErrorIs(t, err, ErrTruncated, "cut at %d", cut)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", cut)
	}
}

// TestDecodePacketDoesNotAllocateClaimedLength checks that a PLEN over the
// bound is refused before anything of that size is allocated, even when the
// bound itself is huge.
func TestDecodePacketDoesNotAllocateClaimedLength(t *testing.T) {
	in := binary.BigEndian.AppendUint32(nil, math.MaxUint32)
	in = binary.BigEndian.AppendUint16(in, 25)
	in = append(in, AppendHeader(nil, PacketHeader{DataLen: 1 << 30})...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		_, _, _, err := DecodePacket(bufio.NewReader(bytes.NewReader(in)), MaxPacketSize)
		require.ErrorIs(t, err, ErrTooLarge)
	}
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "allocated for a refused packet")
}

// recordingWriter keeps every slice it is handed, without copying.
type recordingWriter struct {
	writes [][]byte
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, p)
	return len(p), nil
}

// within reports whether p lies inside block's backing array, and whether
// it overlaps it at all.
func within(p, block []byte) (inside, overlaps bool) {
	if len(p) == 0 || len(block) == 0 {
		return false, false
	}
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
	b1 := b0 + uintptr(len(block))
	p0 := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	p1 := p0 + uintptr(len(p))
	return p0 >= b0 && p1 <= b1, p0 < b1 && p1 > b0
}

func TestPacketWriterDoesNotCopyData(t *testing.T) {
	data := []byte("some block data")
	var w recordingWriter
	pw := NewPacketWriter(&w)
	require.NoError(t, pw.WritePacket(PacketHeader{DataLen: int32(len(data))}, AppendChecksums(nil, data), data))
	require.Len(t, w.writes, 2, "prefix and data as separate buffers")
	inside, _ := within(w.writes[1], data)
	require.True(t, inside, "the data slice was copied")
	require.Equal(t, unsafe.SliceData(data), unsafe.SliceData(w.writes[1]))
	_, overlaps := within(w.writes[0], data)
	require.False(t, overlaps)
	require.Equal(t, int64(len(w.writes[0])+len(data)), pw.Sent())

	err := pw.WritePacket(PacketHeader{DataLen: 3}, nil, data)
	require.ErrorIs(t, err, ErrMalformed)
}
