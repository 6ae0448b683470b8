package layout

import (
	"bytes"
	"testing"
)

func TestStoreWord(t *testing.T) {
	mem := make([]byte, 24) // heap allocations of 8 bytes or more are 8-byte aligned
	StoreWord(mem[8:], 0x0102030405060708)
	want := []byte{0, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(mem, want) {
		t.Fatalf("memory % x, want % x (little-endian, neighbours untouched)", mem, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unaligned commit word did not panic")
		}
	}()
	StoreWord(mem[4:], 1)
}
