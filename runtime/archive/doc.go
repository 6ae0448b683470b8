// Package archive unpacks the code payload of an OpenWhisk /init request into
// an action directory, refusing anything that could write outside it or
// exhaust the machine.
//
// A payload is one of four kinds, told apart by its first bytes (Detect):
//
//	"PK\x03\x04", "PK\x05\x06"  zip         extracted
//	0x1f 0x8b                   tar.gz      extracted
//	"\x7fELF", "#!"             executable  written to dir/exec, mode 0755
//	anything else               source      written to dir/exec, mode 0755
//
// For KindSource the caller compiles dir/exec as Go source.
//
//	kind, err := archive.Unpack(code, dir, archive.DefaultLimits())
//	if errors.Is(err, archive.ErrUnsafePath) { ... } // a 4xx for the client
//
// # What is refused, and why
//
// The payload comes from whoever deploys the action, so every archive is
// treated as hostile. Each refusal is an error wrapping one sentinel whose
// message names the entry, the rule and what to do, for example
//
//	archive: entry "../../etc/passwd" escapes the action directory (zip-slip); rebuild the archive with relative paths inside it
//
// The rules, by sentinel:
//
//   - ErrUnsafePath: entry names that are empty, absolute, contain a ".."
//     component, a backslash (a Windows separator: "a\..\x" climbs out
//     wherever it is interpreted as one) or a NUL byte, are longer than
//     Limits.MaxNameBytes, have a component longer than 255 bytes, or are
//     deeper than Limits.MaxDepth. Any of these could place a file outside
//     the action directory ("zip-slip") or fail half way through. A leading
//     "./" and repeated slashes are harmless and cleaned away.
//   - ErrLinkEntry: symbolic and hard links. A link, once written, lets a
//     later entry (or the action's own code) write or read through it to
//     anywhere on the host.
//   - ErrUnsupportedEntry: devices, FIFOs and sockets, which an action never
//     needs and which could open host devices; also encrypted zip entries,
//     compression methods other than store and deflate, and unknown tar
//     entry types.
//   - ErrDuplicateEntry: the same cleaned path twice, or a file where a later
//     entry needs a directory. Which copy "wins" would otherwise depend on the
//     tool; refusing makes the result unambiguous.
//   - ErrTooLarge and ErrTooManyFiles: limits on decompressed bytes per entry
//     and in total, and on the number of entries and of files and directories
//     created. Sizes declared in headers are not trusted: bytes are counted
//     as they are decompressed and extraction stops as soon as a limit is
//     passed, streaming through one 32 KiB buffer, so a zip or gzip bomb
//     costs at most the limit in disk and a bounded amount of memory. For
//     tar.gz the decompressed stream as a whole (headers, padding, trailing
//     data) is bounded too.
//   - ErrCorrupt: an unreadable zip directory, gzip stream or tar header, a
//     truncated entry or a checksum mismatch.
//
// Bad arguments — invalid Limits, an empty payload, a target directory that
// is missing or not empty — wrap ErrInvalid.
//
// # What is written
//
// Directories get mode 0755. Regular files get 0755 if the archive gave them
// any execute bit and 0644 otherwise; a regular file named exec at the top of
// the archive always gets 0755, because zips made on Windows or by Java carry
// no Unix modes. Modes are set exactly, whatever the umask. Owners,
// timestamps and extended attributes in the archive are ignored.
//
// All writes go through an os.Root opened on the target directory, so no path
// can resolve outside it; files are created with O_CREATE|O_EXCL|O_NOFOLLOW
// and directories with Mkdir, so nothing already present is followed or
// overwritten. On any error Unpack removes everything it wrote and leaves the
// directory empty.
//
// # Caveats
//
//   - archive/zip reads the whole zip central directory into memory before
//     the entry count is checked: memory for it is proportional to the
//     payload size (a few times it, at worst), which the caller must bound —
//     OpenWhisk already caps action code size.
//   - A zip entry whose stored CRC-32 is zero is not checksummed
//     (archive/zip treats zero as "unknown").
//   - Limits.MaxFiles counts parent directories the archive implies without
//     listing them, so an archive without directory entries reaches the limit
//     a little sooner than its entry count suggests.
//   - Executing dir/exec right after Unpack can fail with ETXTBSY if another
//     goroutine forks while the file is still open for writing (Go issue
//     22315); Unpack closes every file before it returns, but a caller that
//     forks concurrently should retry on ETXTBSY.
package archive
