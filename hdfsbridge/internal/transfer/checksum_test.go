package transfer

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBarVector checks the one published vector: colinmarc/hdfs
// file_reader_test.go TestFileChecksum expects FileReader.Checksum() of
// testdata/foo.txt ("bar\n", one block) to be 27c076e4...; that is the
// file-level MD5-of-MD5-of-CRC32C, not the block MD5.
func TestBarVector(t *testing.T) {
	block := []byte("bar\n")
	crcs := AppendChecksums(nil, block)
	require.Equal(t, "fb1d06c8", hex.EncodeToString(crcs), "CRC32C of bar\\n")

	blockMD5, crcPerBlock := BlockChecksum(block)
	require.Equal(t, int64(1), crcPerBlock)
	require.Equal(t, "4164ee7e8e75c8c56e17a50c5ef371b9", hex.EncodeToString(blockMD5[:]))
	require.Equal(t, md5.Sum(crcs), blockMD5)

	file := FileChecksum([][16]byte{blockMD5})
	require.Equal(t, "27c076e4987344253650d3335a5d08ce", hex.EncodeToString(file[:]))
	require.NotEqual(t, "27c076e4987344253650d3335a5d08ce", hex.EncodeToString(blockMD5[:]),
		"the vector is the file checksum, not the block's")

	// With CRC32 (IEEE) the vector does not come out: the DataNode must use
	// CRC32C.
	ieee := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(block))
	ieeeFile := FileChecksum([][16]byte{md5.Sum(ieee)})
	require.NotEqual(t, file, ieeeFile)
}

// refFileChecksum is colinmarc/hdfs FileReader.Checksum's padding loop.
func refFileChecksum(blocks [][16]byte) [16]byte {
	padded, total := 32, 0
	h := md5.New()
	for _, b := range blocks {
		h.Write(b[:])
		total += len(b)
		if padded < total {
			padded *= 2
		}
	}
	h.Write(make([]byte, padded-total))
	var s [16]byte
	h.Sum(s[:0])
	return s
}

func TestFileChecksumPadding(t *testing.T) {
	// No blocks: Java's magic entry, the MD5 of 32 zero bytes.
	require.Equal(t, md5.Sum(make([]byte, 32)), FileChecksum(nil))

	r := newRand(t)
	for n := 0; n <= 70; n++ {
		blocks := make([][16]byte, n)
		for i := range blocks {
			copy(blocks[i][:], randBytes(r, 16))
		}
		require.Equal(t, refFileChecksum(blocks), FileChecksum(blocks), "%d blocks", n)
	}
	// 3 blocks = 48 bytes padded to 64.
	b := [][16]byte{{1}, {2}, {3}}
	want := md5.Sum(append(append(append(append([]byte{}, b[0][:]...), b[1][:]...), b[2][:]...), make([]byte, 16)...))
	require.Equal(t, want, FileChecksum(b))
}

func TestBlockChecksum(t *testing.T) {
	r := newRand(t)
	for _, n := range []int{0, 1, 511, 512, 513, 65536, 65537, 1<<20 + 3} {
		block := randBytes(r, n)
		var crcs []byte
		for off := 0; off < n; off += ChunkSize {
			crcs = binary.BigEndian.AppendUint32(crcs, crc32.Checksum(block[off:min(off+ChunkSize, n)], crc32.MakeTable(crc32.Castagnoli)))
		}
		require.Equal(t, crcs, AppendChecksums(nil, block), "size %d", n)
		sum, count := BlockChecksum(block)
		require.Equal(t, md5.Sum(crcs), sum, "size %d", n)
		require.Equal(t, int64((n+511)/512), count, "size %d", n)
	}
}

func TestVerifyChecksums(t *testing.T) {
	r := newRand(t)
	data := randBytes(r, 3*ChunkSize+7)
	sums := AppendChecksums(nil, data)
	require.NoError(t, VerifyChecksums(data, sums, 4096, 3))

	data[2*ChunkSize+1] ^= 1
	err := VerifyChecksums(data, sums, 4096, 3)
	var ce *ChecksumError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, ErrChecksum)
	require.Equal(t, int64(4096+2*ChunkSize), ce.Offset)
	require.Equal(t, ChunkSize, ce.Len)
	require.Equal(t, int64(3), ce.Seqno)
	require.Contains(t, err.Error(), "block offset 5120")

	err = VerifyChecksums(data, sums[:8], 0, 3)
	require.ErrorIs(t, err, ErrMalformed)
}
