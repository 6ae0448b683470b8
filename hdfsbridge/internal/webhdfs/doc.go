// Package webhdfs is the WebHDFS REST server of Marvel's HDFS bridge: HTTP
// requests /webhdfs/v1/<path>?op=... served over the namespace of package
// namesys, with the JSON shapes, statuses and redirects of Hadoop's WebHDFS
// (WebHDFS.md), so that Hadoop's WebHdfsFileSystem, npm webhdfs and curl
// work against it.
//
// # Ops
//
// The op parameter is matched case-insensitively (ASCII only: "lıststatus"
// with a dotless i is not LISTSTATUS), and parameter names are too, as
// Hadoop lower-cases them ("startAfter" is "startafter").
//
//	GET    GETFILESTATUS      {"FileStatus":{...}}, pathSuffix ""
//	GET    GETFILELINKSTATUS  the same (symlinks are invisible to HDFS here)
//	GET    LISTSTATUS         {"FileStatuses":{"FileStatus":[...]}}: every
//	                          page, streamed; a file lists itself with ""
//	GET    LISTSTATUS_BATCH   one page after startAfter, with remainingEntries
//	GET    OPEN               two steps; offset, length
//	GET    GETFILECHECKSUM    two steps; MD5-of-<n>MD5-of-512CRC32C
//	GET    GETCONTENTSUMMARY, GETQUOTAUSAGE   quotas are -1 (none)
//	GET    GETHOMEDIRECTORY, GETTRASHROOT     /user/<u>, /user/<u>/.Trash
//	GET    GETSTATUS          {"FsStatus":{used,remaining,capacity}}
//	GET    GETACLSTATUS       the permission bits, no ACL entries
//	GET    GETXATTRS, LISTXATTRS
//	PUT    CREATE             two steps; overwrite (false), permission (644),
//	                          blocksize, createparent (true); replication and
//	                          buffersize are checked and ignored
//	PUT    MKDIRS             permission (755), parents always; {"boolean":true}
//	PUT    RENAME             destination; {"boolean":...}, false (not an
//	                          error) on a missing source or an existing
//	                          destination; with renameoptions (NONE,
//	                          OVERWRITE) it is rename2: an empty 200 or the
//	                          exception
//	PUT    SETPERMISSION      permission (755 when absent, as Hadoop)
//	PUT    SETOWNER           owner, group (at least one)
//	PUT    SETTIMES           modificationtime, accesstime in ms; -1 unchanged
//	PUT    SETREPLICATION     {"boolean":...}: true for a file, false for a
//	                          directory; the factor is ignored (one copy)
//	PUT    SETXATTR, REMOVEXATTR   xattr.name, xattr.value, flag (CREATE,
//	                          REPLACE; both when absent)
//	POST   APPEND             two steps; final 200
//	POST   TRUNCATE           newlength; {"boolean":true}
//	DELETE DELETE             recursive (false); {"boolean":...}, false for a
//	                          missing path
//
// XAttr values travel as Hadoop's XAttrCodec writes them: "0x" and hex,
// "0s" and base64, or text in double quotes (GETXATTRS's default; a value
// that is not UTF-8 is sent as hex instead, as quoted text could not carry
// it). SETXATTR reads any of the three, and an unmarked value as raw text.
//
// Ops without a result (SETPERMISSION, SETOWNER, SETTIMES, the xattr
// setters) answer an empty 200. CONCAT, symlinks, delegation tokens, ACL
// changes, snapshots, storage and erasure-coding policies and quotas are
// known and refused with UnsupportedOperationException (400).
//
// # Two steps
//
// OPEN, GETFILECHECKSUM, CREATE and APPEND are answered, as by a NameNode,
// with 307 Temporary Redirect whose Location is the same URL plus data=true
// on Options.DataURL, or on the request's own host when that is empty (one
// port serves both steps). With noredirect=true the first step answers 200
// {"Location":"..."} instead. The first step checks what a NameNode would:
// the parameters, and for OPEN and GETFILECHECKSUM that the file exists and
// is readable, for APPEND that it exists. It never reads a body, so a client
// may send the data to either step. The data step (data=true, as a DataNode)
// does the work: OPEN streams the bytes as application/octet-stream with a
// Content-Length; CREATE answers 201 Created with Location
// webhdfs://<host>/<path> and no body; APPEND answers 200 with no body.
//
// Bodies are streamed into the file (namesys copies them in pieces), never
// buffered whole. Options.MaxBodyBytes bounds them: a larger declared
// Content-Length is refused before anything is created, and a body that
// grows past the bound fails the write (a new file is removed, an append is
// cut back), both with 413 and an IOException.
//
// GETFILECHECKSUM is computed as a DataNode and Hadoop's FileChecksumHelper
// do: per block (of the file's block size), the MD5 of the CRC32C of each
// 512-byte chunk; then the MD5 of those MD5s zero-padded to 32 bytes
// (doubled as needed). The 28 hex bytes are int32 bytesPerCRC (512), int64
// crcPerBlock (the first block's chunk count, but 0 for a file of one
// block) and the MD5. An empty file gives Hadoop's magic entry:
// "MD5-of-0MD5-of-0CRC32", bytesPerCRC 0, the MD5 of 32 zero bytes.
//
// # Users
//
// There is no authentication, as in Hadoop with security off: the caller is
// whoever user.name names, and "dr.who" (Hadoop's static anonymous user)
// when it is absent or empty. A name must match Hadoop's default pattern
// ^[A-Za-z_][A-Za-z0-9._-]*[$]?$; doas naming anyone else is refused (no
// proxy users are configured). Options.PeerUser may bind a connection to
// one user (the bridge binds an isolated action on this host to its
// namespace's user, hdfsbridge/internal/peer): user.name then defaults to
// that user, and naming anyone else, in user.name or doas, is 403
// AuthorizationException. Groups come from the namespace
// (namesys.FS.UserOf), and every permission check is the namespace's.
//
// # Errors
//
// A failure is {"RemoteException":{"exception":"<simple class name>",
// "javaClassName":"<class>","message":"..."}} with the status Hadoop's
// WebHDFS gives the class:
//
//	404  FileNotFoundException
//	403  AccessControlException, AuthorizationException, SecurityException
//	400  IllegalArgumentException, HadoopIllegalArgumentException,
//	     InvalidPathException, UnsupportedOperationException
//	403  any other IOException: FileAlreadyExistsException,
//	     PathIsNotEmptyDirectoryException, AlreadyBeingCreatedException,
//	     EOFException (OPEN past the end), ...
//	500  anything else
//
// namesys names the class of its failures (namesys.ClassOf). A bad path is
// InvalidPathException (400). Parameters are parsed strictly: integers are
// decimal digits only (a '-' only where -1 is meaningful), booleans are
// true or false (an empty value is refused rather than read as false),
// permissions are octal up to 1777; a bad value, a repeated parameter, an
// over-long name or value (1 KiB; paths 8000 bytes; xattr values 32 KiB
// encoded), more than 64 parameters or a query over 128 KiB are
// IllegalArgumentException (400). An unknown op, a missing op, and an op
// sent with the wrong method are IllegalArgumentException (400), as Hadoop
// answers ("Invalid value for webhdfs parameter "op": ..."); an HTTP method
// WebHDFS does not use is 405 with an Allow header. A path outside
// /webhdfs/v1 is 404. Unknown parameters are ignored, as Hadoop does.
//
// # Memory safety
//
// OPEN and GETFILECHECKSUM read the file through the read-only mapping of
// namesys.FS.OpenFile. If another writer (an action, or TRUNCATE) shortens
// the file meanwhile, touching the lost pages raises SIGBUS. The goroutine
// reading the mapping runs with debug.SetPanicOnFault, copies the mapping
// piece by piece into a private buffer (so a fault is only ever raised in
// that copy, never inside net/http or the kernel) and recovers the fault
// into an IOException: before the reply starts it is answered as such;
// during an OPEN stream the connection is aborted (http.ErrAbortHandler),
// so the client sees a body shorter than its Content-Length. The mapping is
// unmapped before the handler returns, on every path.
package webhdfs
