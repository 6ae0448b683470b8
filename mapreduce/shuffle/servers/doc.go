// Package servers runs real storage servers as child processes on
// 127.0.0.1, for the shuffle store's tests and the benchmark harness:
//
//   - StartRedis runs redis-server (Debian's redis-server package; `apt-get
//     install -y redis-server`) on a free port without persistence.
//   - StartS3 runs MinIO, a real S3-compatible object store, on a free port,
//     storing under a directory. The minio executable is taken from
//     $MARVEL_MINIO, ~/.cache/marvel/minio ($XDG_CACHE_HOME) or PATH; if
//     none is found it is built once from the Go module proxy (MinIOModule at
//     MinIOVersion, `go install`), which takes minutes.
//
// Both return once the server answers (PING; MinIO's live and ready health
// endpoints) and give the shuffle.Config of a store in them:
//
//	r, err := servers.StartRedis(ctx, t.TempDir())
//	...
//	defer r.Close()
//	s, err := shuffle.Open(ctx, r.Config())
//
// # Processes and goroutines
//
// Each server is one child process in its own process group, with
// PR_SET_PDEATHSIG SIGKILL so that it dies with the process that started
// it, and its output in a log file in its directory (redis.log,
// minio.log), whose last lines errors quote. One goroutine per server waits
// for its exit; Close sends SIGTERM, SIGKILL after 10 s, and waits. A build
// of MinIO holds a lock file in the binary directory, so concurrent test
// processes build it once.
//
// # Caveats
//
//   - Linux first: elsewhere servers are not killed with a crashed parent
//     and concurrent MinIO builds are not serialised.
//   - Unlike the rest of the module this package reads the environment
//     (DefaultS3Options: MARVEL_MINIO, MINIO_ROOT_USER, MINIO_ROOT_PASSWORD),
//     because it serves tests and the harness, which have no flags.
//   - MinIO is AGPLv3; it is run as a separate program and not linked.
package servers
