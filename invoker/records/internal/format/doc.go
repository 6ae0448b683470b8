// Package format encodes and decodes the on-disk structures of package
// records: the header of an activation segment, the frame around each
// activation record, and the header of an action file. It does no I/O.
//
// All integers are little-endian; every checksum is CRC-32C (Castagnoli).
//
// Activation segment (activations/seg-NNNNNNNNNN.log):
//
//	+---------------------+  offset 0
//	| segment header (32) |
//	+---------------------+  32
//	| frame 1             |
//	| frame 2             |
//	| ...                 |
//	+---------------------+  file size
//
// Segment header:
//
//	 0  8  magic "MVLSEG\r\n"
//	 8  2  version (1)
//	10  2  header size (32)
//	12  4  zero
//	16  8  segment number (the NNNNNNNNNN of the file name)
//	24  4  zero
//	28  4  CRC-32C of bytes 0..28
//
// Frame (one activation record):
//
//	 0  4  magic D3 9A 4C E1
//	 4  4  payload length n
//	 8  8  batch offset: where in the segment the first frame of the group
//	       commit that wrote this frame starts (<= this frame's offset)
//	16  4  head length h (h <= n)
//	20  1  status code of the record's summary (0..3), or 0xFF for none
//	21  3  zero
//	24  4  CRC-32C of the payload
//	28  4  CRC-32C of bytes 0..28
//	32  n  payload: head JSON (h bytes) then body JSON (n-h bytes)
//
// The head is the activation without logs and response; the body is
// {"logs":[...],"response":{...}}. Recovery reads heads only to rebuild the
// index, and checks every payload checksum.
//
// The batch offset is what tells an interrupted write from damage: a group
// commit is written with one write and made durable with one fsync before
// the next one starts, so an intact frame whose batch starts after a bad
// spot proves the bad spot was durable before: it is damage. A bad spot
// with nothing intact after it, or only frames of its own batch, is the
// tail of a write a crash interrupted.
//
// Action file (actions/<namespace>/<name>.action):
//
//	 0  8  magic "MVLACT\r\n"
//	 8  2  version (1)
//	10  2  flags: bit 0 set when the action has code
//	12  4  meta length m
//	16  8  code length c
//	24  4  CRC-32C of the meta
//	28  4  CRC-32C of the code
//	32  4  zero
//	36  4  CRC-32C of bytes 0..36
//	40  m  meta JSON: {"namespace":..,"name":..,"action":{...}} without code
//	40+m c code bytes
package format
