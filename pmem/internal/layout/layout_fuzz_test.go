package layout

import (
	"encoding/binary"
	"testing"
)

func validHeader() []byte {
	b := make([]byte, DataStart)
	sb := Superblock{Version: Version, Flags: FlagPinned, CreatedMode: 3, CreatedNano: 42, Owner: "fn:guest/counter"}
	if err := sb.Encode(b); err != nil {
		panic(err)
	}
	r := Root{Gen: 1, Size: 1 << 20, LogStart: DataStart, LogEnd: 1 << 20, Tail: DataStart + 64}
	r.Encode(b[RootOffset(1):])
	return b
}

// FuzzDecodeSuperblock decodes any header. With seal set, the input gets
// the magic and a correct checksum first, so that the fuzzer reaches the
// fields behind them (a damaged header fails its checksum long before).
func FuzzDecodeSuperblock(f *testing.F) {
	f.Add(validHeader(), false)
	f.Add(validHeader(), true)
	f.Add([]byte{}, false)
	f.Add([]byte(Magic), true)
	owner := validHeader()
	binary.LittleEndian.PutUint16(owner[48:], OwnerMax+1)
	f.Add(owner, true)
	f.Fuzz(func(t *testing.T, b []byte, seal bool) {
		if seal && len(b) >= 128 {
			copy(b, Magic)
			binary.LittleEndian.PutUint32(b[124:], CRC(b[:124]))
		}
		sb, err := DecodeSuperblock(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		// What decodes re-encodes to the same bytes.
		out := make([]byte, SuperblockSize)
		if err := sb.Encode(out); err != nil {
			t.Fatal(err)
		}
		if sb2, err := DecodeSuperblock(append(out, make([]byte, DataStart)...)); err != nil || sb2 != sb {
			t.Fatalf("round trip: %+v vs %+v (%v)", sb, sb2, err)
		}
	})
}

func FuzzDecodeRoot(f *testing.F) {
	h := validHeader()
	f.Add(h[RootOffset(1):RootOffset(1)+RootSize], int64(1<<20))
	f.Add(make([]byte, RootSize), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, mapped int64) {
		if len(b) < RootSize {
			b = append(b, make([]byte, RootSize-len(b))...)
		}
		r, err := DecodeRoot(b[:RootSize], RootOffset(0), mapped)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if r.Size > uint64(max(mapped, 0)) || r.Tail < r.LogStart || r.Tail > r.LogEnd || r.LogEnd > r.Size || r.LogStart < DataStart {
			t.Fatalf("accepted an inconsistent root %+v (mapped %d)", r, mapped)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	rec := make([]byte, 64)
	EncodeRecordHeader(rec, RecordHeader{Kind: KindPut, KeyLen: 3, ValueCRC: CRC([]byte("value")), ValueLen: 5}, "key")
	copy(rec[RecordHeaderSize:], "keyvalue")
	f.Add(rec, int64(0), int64(len(rec)))
	del := make([]byte, 40)
	EncodeRecordHeader(del, RecordHeader{Kind: KindDelete, KeyLen: 1}, "k")
	copy(del[RecordHeaderSize:], "k")
	f.Add(del, int64(0), int64(len(del)))
	huge := append([]byte(nil), rec...)
	binary.LittleEndian.PutUint64(huge[16:], 1<<62)
	f.Add(huge, int64(0), int64(len(huge)))
	f.Fuzz(func(t *testing.T, log []byte, off, limit int64) {
		h, key, err := DecodeRecord(log, off, limit)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		end := off + h.Size()
		if end > int64(len(log)) || end > limit || int(h.KeyLen) != len(key) {
			t.Fatalf("accepted record [%d,%d) beyond log %d / limit %d", off, end, len(log), limit)
		}
	})
}
