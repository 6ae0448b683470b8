// Package shuffle is where MapReduce map tasks leave their output partitions
// and reduce tasks fetch them: one Store interface over four kinds of store,
// so that a job can run with each and its times be compared.
//
//	c := shuffle.Config{Kind: "pmem", Dir: filesDir + "/.shuffle"} // from the task's parameters
//	s, err := shuffle.Open(ctx, c)
//	...
//	defer s.Close()
//	err = s.Put(ctx, "job-7/map-3/part-0", partition)       // durable when it returns
//	err = s.View(ctx, "job-7/map-3/part-0", func(b []byte) error {
//		return reduce(b) // pmem: b is the persistent memory itself
//	})
//	err = s.DeletePrefix(ctx, "job-7/")                        // the job's cleanup
//
// # Kinds
//
//   - pmem: one file per key in a directory of the PMEM namespace (key
//     components are directories), written with pmem.CreateFile (write(2)
//     into a hidden temporary, fsync, rename, directory fsync: on a DAX
//     filesystem the kernel's write path stores straight into persistent
//     memory) and read with pmem.MapFile. View passes the mapping itself: a
//     co-located reducer reads the partition without a copy. Get reads a
//     copy with read(2).
//   - disk: one file per key in a directory on a local disk, as Hadoop spills
//     map output: temporary file, write, fsync, rename, directory fsync; read
//     with read(2). The baseline pmem must beat on the same machine.
//   - redis: a Redis server (github.com/redis/go-redis/v9): SET and GET of
//     the raw bytes; DeletePrefix is SCAN MATCH prefix* plus UNLINK.
//   - s3: an S3-compatible object store over HTTP with SigV4
//     (github.com/minio/minio-go/v7): PutObject, GetObject, and ListObjects
//     plus RemoveObjects for DeletePrefix. Open creates the bucket if missing.
//
// Package servers starts a real redis-server and a real MinIO for tests and
// the benchmark harness.
//
// # Keys and values
//
// Keys are "/"-separated paths of [A-Za-z0-9._-] components, none empty,
// starting with a dot or longer than 200 bytes, at most 512 bytes in all
// (ValidKey). Values are at most MaxValueSize (1 GiB). In the file stores a
// key is a file and its prefixes are directories, so "a/b" and "a/b/c"
// cannot both exist there (ErrConflict); Redis and S3 allow it. Use keys of
// one depth per job, such as job/map/partition.
//
// # Durability
//
// Put returns once the value is as durable as the store makes it: pmem and
// disk have fsynced the file and the directory entry, so a crash keeps the
// whole value or, if it came before the rename, leaves no key (the hidden
// temporary ".NAME.tmp-…" is never a key, and DeletePrefix removes it with
// its job); Redis has acknowledged the SET (in memory; durable as far as the
// server's persistence goes); S3 has acknowledged the PUT.
//
// # Injected latency
//
// Config.Latency sleeps before every request: every Redis command (the
// HELLO that opens each new connection included), every S3 HTTP request,
// every pmem or disk operation. Open's first contact (PING; the bucket
// check) pays it too. It emulates a remote store
// with a local server; results measured with it must say "with N injected
// latency" (Config.Label gives "s3+2ms").
//
// # Caveats
//
//   - This machine has no persistent memory: the pmem store runs in emulated
//     mode (a file-backed MAP_SHARED mapping made durable with msync and
//     fsync), so on a disk filesystem its writes cost about what the disk
//     store's do. The zero-copy read path is real either way.
//   - Reading through a fresh mapping costs a page fault per 4 KiB page on
//     first touch (View and Get prefault with MADV_POPULATE_READ, but in a
//     virtual machine each first access still costs microseconds), and each
//     Put writes new pages: in the development VM a pmem Get of 1 MiB is
//     slower than the disk store's read(2) of it from the page cache. See
//     BenchmarkStores, which runs pmem on tmpfs and on disk.
//   - Opening a redis store silences go-redis's process-wide logger (it
//     would print every failed dial to stderr); errors reach the caller.
//   - The slice View passes is valid only during fn, and for pmem it is
//     mapped read-only: writing to it crashes the process.
//   - Redis and S3 values are read whole into memory (go-redis and minio-go
//     have no zero-copy path); a 1 GiB value needs a server configured for
//     it (servers.StartRedis sets proto-max-bulk-len 1gb).
//   - DeletePrefix refuses the empty prefix. In the file stores it matches
//     by directory entries, so it costs one directory read plus the
//     removals; Redis SCANs the whole keyspace.
package shuffle
