// Package partition encodes and decodes shuffle partitions: what one map
// task hands one reduce task through the shuffle store. It does no I/O.
//
// A partition is a header followed by a body of entries in ascending order.
// All integers are little-endian; both checksums are CRC-32C (Castagnoli).
//
//	+--------------------+  offset 0
//	| header (32)        |
//	+--------------------+  32
//	| entry 1            |
//	| entry 2            |
//	| ...                |
//	+--------------------+  partition length
//
// Header:
//
//	 0  8  magic "MVLPART\n"
//	 8  1  version (1)
//	 9  1  kind: 1 counts, 2 records
//	10  6  zero
//	16  8  entry count n
//	24  4  CRC-32C of the body (bytes 32..end)
//	28  4  CRC-32C of bytes 0..28
//
// Counts body (wordcount, grep): n entries, keys strictly ascending
// (bytes.Compare), so a key appears once per partition:
//
//	uvarint key length k | k key bytes | uvarint count (>= 1)
//
// Records body (sort): n records of exactly RecordSize (100) bytes,
// non-decreasing by bytes.Compare of the whole record, so the body is
// exactly 100*n bytes and a reduce task merges sorted runs.
//
// Decoding is bounded by the input: no length read from a partition makes
// the decoder allocate, keys and records alias the input, and every length,
// count and ordering violation is an error wrapping ErrCorrupt with the byte
// offset, never a panic.
package partition
