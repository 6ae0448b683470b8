package transfer

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	// ChunkSize is bytesPerChecksum: one CRC covers 512 bytes of a block,
	// chunks aligned to block (not file) offsets.
	ChunkSize = 512
	// ChecksumSize is the size of one CRC32C on the wire (big-endian).
	ChecksumSize = 4
)

// castagnoli is the CRC32C table; crc32.Checksum uses the SSE4.2/ARMv8
// instructions for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkStart rounds off down to a chunk boundary.
func chunkStart(off int64) int64 { return off &^ (ChunkSize - 1) }

// chunkEnd rounds off up to a chunk boundary (off must be below
// MaxInt64-511).
func chunkEnd(off int64) int64 { return (off + ChunkSize - 1) &^ (ChunkSize - 1) }

// NumChunks is the number of checksum chunks covering n bytes: ceil(n/512).
func NumChunks(n int) int { return (n + ChunkSize - 1) / ChunkSize }

// AppendChecksums appends to dst the big-endian CRC32C of each 512-byte chunk
// of data (the last may be shorter) and returns the extended slice. data must
// start on a chunk boundary of the block, or be a partial chunk that does not
// cross one.
func AppendChecksums(dst, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), ChunkSize)
		dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(data[:n], castagnoli))
		data = data[n:]
	}
	return dst
}

// VerifyChecksums checks data against checksums as AppendChecksums computes
// them. offset is the block offset of data[0] and seqno the packet's, both
// for the error: a mismatch is a *ChecksumError naming the chunk; a
// checksums slice of the wrong length is ErrMalformed.
func VerifyChecksums(data, checksums []byte, offset, seqno int64) error {
	if want := NumChunks(len(data)) * ChecksumSize; len(checksums) != want {
		return fmt.Errorf("%w: packet %d at offset %d: %d checksum bytes for %d data bytes, want %d",
			ErrMalformed, seqno, offset, len(checksums), len(data), want)
	}
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), ChunkSize)
		want := binary.BigEndian.Uint32(checksums[i*ChecksumSize:])
		if got := crc32.Checksum(data[:n], castagnoli); got != want {
			return &ChecksumError{Offset: offset + int64(i)*ChunkSize, Len: n, Seqno: seqno, Want: want, Got: got}
		}
		data = data[n:]
	}
	return nil
}

// BlockChecksum computes what BLOCK_CHECKSUM (MD5CRC) reports for a block:
// the MD5 of the concatenated big-endian CRC32C of its 512-byte chunks, and
// the number of chunks, ceil(len/512). An empty block has crcPerBlock 0 and
// the MD5 of nothing.
func BlockChecksum(block []byte) (md5sum [16]byte, crcPerBlock int64) {
	h := md5.New()
	var buf [ChunkSize]byte // 128 CRCs per MD5 write
	crcs := buf[:0]
	for len(block) > 0 {
		n := min(len(block), ChunkSize)
		crcs = binary.BigEndian.AppendUint32(crcs, crc32.Checksum(block[:n], castagnoli))
		if len(crcs) == cap(crcs) {
			h.Write(crcs)
			crcs = crcs[:0]
		}
		block = block[n:]
		crcPerBlock++
	}
	h.Write(crcs)
	h.Sum(md5sum[:0])
	return md5sum, crcPerBlock
}

// FileChecksum combines the block MD5s of a file, in block order, into the
// file's MD5-of-MD5-of-CRC32C, as Java's FileChecksumHelper and
// colinmarc/hdfs FileReader.Checksum do: the MD5 of the block MD5s
// concatenated and zero-padded to the capacity of Java's DataOutputBuffer
// (32 bytes, doubled until it holds them all). A file without blocks gives
// the MD5 of 32 zero bytes, Java's "magic entry" for empty files.
func FileChecksum(blockMD5s [][16]byte) [16]byte {
	padded := 32
	for padded < 16*len(blockMD5s) {
		padded *= 2
	}
	h := md5.New()
	for i := range blockMD5s {
		h.Write(blockMD5s[i][:])
	}
	var zeros [32]byte
	for rest := padded - 16*len(blockMD5s); rest > 0; rest -= len(zeros) {
		h.Write(zeros[:min(rest, len(zeros))])
	}
	var sum [16]byte
	h.Sum(sum[:0])
	return sum
}
