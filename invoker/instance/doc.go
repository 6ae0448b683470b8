// Package instance runs one `marvel runtime` (the OpenWhisk action proxy of
// package runtime/proxy) as a child process, the way OpenWhisk runs an
// action container: Start launches it on a free loopback port, Init and Run
// send it POST /init and POST /run, and every reply comes with the action's
// log lines for that request, as OpenWhisk's invoker collects them from a
// container.
//
//	inst, err := instance.Start(ctx, instance.Config{
//		Binary:  "/usr/local/bin/marvel",
//		Args:    []string{"--data", "/mnt/pmem/marvel", "--pmem", "fsdax"},
//		WorkDir: "/var/lib/marvel-invoker/work/counter-3",
//		Env:     []string{"PATH=/usr/bin:/bin"},
//		Name:    "/guest/counter#3",
//	})
//	if err != nil { ... }
//	defer inst.Close()
//	r, err := inst.Init(ctx, initBody, instance.RunOptions{})
//	r, err = inst.Run(ctx, runBody, instance.RunOptions{})
//	for _, l := range r.Logs { fmt.Println(l) } // "2026-11-23T00:20:00.123456789Z stdout: hello"
//
// # The process
//
// The runtime is started with `runtime ARGS... --listen 127.0.0.1:0
// --work WorkDir`, in a session of its own (so also in a process group of
// its own, whose id is its pid), with SIGKILL as its parent-death signal.
// Start returns once it has printed "listening on ADDR" on stderr. Its
// environment is Config.Env plus MARVEL_RUNTIME_TOKEN, a fresh secret of
// this instance that Init and Run send as "Authorization: Bearer <token>":
// the runtime refuses requests without it, so an action, which shares the
// loopback interface, cannot drive another instance (see token.go). Kill
// sends SIGKILL to its group; Close sends SIGTERM (the runtime then stops
// the action and releases its region) and SIGKILL after StopTimeout. Once
// the runtime is reaped, whatever it left running is killed: the processes
// of its session and anything holding its output pipes (the action runs in
// a process group of its own, and what an action starts does not die with
// it). Only then is Done closed; Err tells why it exited, with the last
// lines of its stderr.
//
// # Logs
//
// The runtime's stdout and stderr, which the action shares, are read line
// by line; each line is timestamped as it is read and goes to the request
// in progress. Lines longer than MaxLineBytes are cut, with a note saying
// how many bytes were dropped. What the runtime does on its streams
// (runtime/proxy):
//
//   - /run: the action's output, then the sentinel
//     XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX on stdout and on stderr, for
//     every outcome, before the reply. A run's output on a stream ends at
//     its sentinel.
//   - /init: no sentinels, ever. A successful init writes nothing of its
//     own; the action's output before it acknowledges, a failed build's
//     compiler output, "init failed: MESSAGE" (a failed init) and "Cannot
//     initialize the action more than once." (a refused one) go to stderr,
//     all before the reply.
//   - its own log lines (log/slog's text handler on stderr, at
//     --log-level, warn by default): "time=… level=… msg=…". They are
//     recognised, passed to Config.Logger, and kept out of the logs.
//
// Since everything of a request is written before its reply, after the
// reply the package writes a barrier marker of its own (a line with a
// random token) into both pipes through its copy of their write ends; the
// marker is read after everything written before it. An init's output ends
// at its marker; a run's at its sentinel, or at its marker if the runtime
// wrote none (so a missing sentinel costs nothing, not SentinelWait).
// SentinelWait bounds the wait in any case.
//
// Output written while no request is in progress (after a run's sentinels,
// between requests, e.g. by a process the action left in the background)
// goes to the next request's logs, first, as in OpenWhisk (whose invoker
// reads a container's log up to the next sentinels); at most 1 MiB of it
// is kept. A run given up before its reply (its context ended) returns the
// output written until then; the rest of its output, up to its sentinels,
// which the runtime writes when it stops that activation, is dropped.
//
// # Goroutines
//
// Each instance has four goroutines, all ended by the runtime's exit (or
// Close): two readers, one per pipe, that own the splitting of lines and
// hand them to the collector (which owns the routing, under its mutex);
// one that closes readersDone when both have ended; and the reaper, which
// waits for the runtime, kills its leftovers, closes the write ends it
// kept, waits for the readers (up to 2 s), sets Err and closes Done. The
// HTTP transport's connection goroutines end with the runtime or Close.
//
// # Caveats
//
//   - Linux only (/proc, Pdeathsig).
//   - The parent-death signal fires when the thread that started the
//     runtime exits, not the process; Go keeps its threads unless a
//     goroutine locked to one exits.
//   - One request at a time per instance (the runtime also runs one
//     activation at a time); Init and Run wait for the one in progress.
//   - A run given up after its request was sent but never handled by the
//     runtime would make the next run's output be taken for the end of
//     the given-up run's and dropped. The runtime handles every request
//     whose head it has read, so this needs a connection cut in the middle
//     of a request's head.
//   - A process that leaves the runtime's session and closes the runtime's
//     output escapes the sweep at exit.
//   - The runtime's log lines are told from the action's by their format
//     alone: an action that logs with log/slog's default text handler on
//     stderr has those lines sent to Config.Logger, not to its logs. An
//     exact split needs the runtime to write its logs elsewhere than the
//     action's stderr (it has no flag for that yet).
package instance
