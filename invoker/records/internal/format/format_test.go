package format

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.golden from the current encoders")

// TestGolden pins the bytes of each structure: a change of format shows
// here, and must come with a new version.
func TestGolden(t *testing.T) {
	var b strings.Builder
	dump := func(name string, data []byte) {
		b.WriteString("# " + name + "\n")
		b.WriteString(hex.Dump(data))
	}
	dump("segment header, segment 7", SegmentHeader(7))
	dump(`frame at 32, batch at 32, status 1, head {"a":1}, body {"logs":["x"]}`,
		AppendFrame(nil, []byte(`{"a":1}`), []byte(`{"logs":["x"]}`), 32, 1))
	dump("frame without status, empty body", AppendFrame(nil, []byte(`{}`), nil, 64, NoStatus))
	dump("action header, meta 100 bytes, code 5 bytes",
		ActionHeader{HasCode: true, MetaLength: 100, CodeLength: 5, MetaCRC: 0x11223344, CodeCRC: 0x55667788}.Encode())
	dump("action header without code", ActionHeader{MetaLength: 9, MetaCRC: 1}.Encode())
	path := filepath.Join("testdata", "format.golden")
	if *rewrite {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run with -rewrite to create it")
	require.Equal(t, string(want), b.String(), "the on-disk format changed (run with -rewrite if that is meant, and bump Version)")
}

func TestSegmentHeader(t *testing.T) {
	h := SegmentHeader(42)
	n, err := DecodeSegmentHeader(h)
	require.NoError(t, err)
	require.Equal(t, uint64(42), n)
	for i := range h {
		bad := append([]byte(nil), h...)
		bad[i] ^= 0x10
		_, err := DecodeSegmentHeader(bad)
		require.Error(t, err, "byte %d", i)
	}
	_, err = DecodeSegmentHeader(h[:31])
	require.ErrorContains(t, err, "cut short")
	_, err = DecodeSegmentHeader(make([]byte, 32))
	require.ErrorContains(t, err, "zeros")
}

func TestFrame(t *testing.T) {
	head, body := []byte(`{"activationId":"x"}`), []byte(`{"logs":["a","b"]}`)
	b := AppendFrame([]byte("prefix"), head, body, 123, 2)
	b = b[len("prefix"):]
	f, err := DecodeFrame(b)
	require.NoError(t, err)
	require.Equal(t, Frame{Length: uint32(len(head) + len(body)), BatchOffset: 123, HeadLength: uint32(len(head)),
		Status: 2, PayloadCRC: Checksum(append(append([]byte(nil), head...), body...))}, f)
	require.Equal(t, int64(len(b)), f.Size())
	require.NoError(t, f.CheckPayload(b[FrameHeaderSize:]))
	for i := range FrameHeaderSize {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x01
		_, err := DecodeFrame(bad)
		require.Error(t, err, "header byte %d", i)
	}
	for i := FrameHeaderSize; i < len(b); i++ {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x01
		f, err := DecodeFrame(bad)
		require.NoError(t, err)
		require.ErrorContains(t, f.CheckPayload(bad[FrameHeaderSize:]), "checksum", "payload byte %d", i)
	}
	require.Error(t, f.CheckPayload(b[FrameHeaderSize:len(b)-1]))
	_, err = DecodeFrame(make([]byte, 32))
	require.ErrorContains(t, err, "zeros")
}

func TestActionHeader(t *testing.T) {
	h := ActionHeader{HasCode: true, MetaLength: 10, CodeLength: 1 << 33 >> 2, MetaCRC: 1, CodeCRC: 2}
	got, err := DecodeActionHeader(h.Encode())
	require.NoError(t, err)
	require.Equal(t, h, got)
	require.Equal(t, int64(ActionHeaderSize+10+(1<<31)), h.Size())
	enc := h.Encode()
	for i := range enc {
		bad := append([]byte(nil), enc...)
		bad[i] ^= 0x04
		_, err := DecodeActionHeader(bad)
		require.Error(t, err, "byte %d", i)
	}
	_, err = DecodeActionHeader(enc[:39])
	require.ErrorContains(t, err, "cut short")
}

// The decoders read bytes from disk: they must never panic, and what they
// accept must encode back to the same bytes.

func FuzzDecodeSegmentHeader(f *testing.F) {
	f.Add(SegmentHeader(1))
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeSegmentHeader(b)
		if err == nil {
			require.Equal(t, SegmentHeader(n), b[:SegmentHeaderSize])
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, []byte(`{"a":1}`), []byte(`{}`), 32, 0))
	f.Add(AppendFrame(nil, nil, nil, 0, NoStatus))
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			return
		}
		require.LessOrEqual(t, fr.HeadLength, fr.Length)
		if int64(len(b)) >= fr.Size() && fr.CheckPayload(b[FrameHeaderSize:fr.Size()]) == nil {
			p := b[FrameHeaderSize:fr.Size()]
			again := AppendFrame(nil, p[:fr.HeadLength], p[fr.HeadLength:], fr.BatchOffset, fr.Status)
			require.Equal(t, b[:fr.Size()], again)
		}
	})
}

func FuzzDecodeActionHeader(f *testing.F) {
	f.Add(ActionHeader{HasCode: true, MetaLength: 3, CodeLength: 4}.Encode())
	f.Add(ActionHeader{MetaLength: 3}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeActionHeader(b)
		if err == nil {
			require.Equal(t, h.Encode(), b[:ActionHeaderSize])
		}
	})
}
