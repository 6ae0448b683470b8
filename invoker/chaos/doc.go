// Package chaos holds the chaos test of MapReduce jobs under `marvel
// standalone`. It has no code of its own: the test (chaos_test.go) builds
// the real marvel binary and the counter action, runs `marvel standalone`
// as a child process over a data directory and fixed loopback ports, and
// runs wordcount and sort jobs through the OpenWhisk API (package
// mapreduce/driver) while a seeded chaos goroutine sends SIGKILL, at random
// moments, to action processes (`marvel mr-task`, the counter), runtime
// instances (`marvel runtime`) and `marvel standalone` itself, which the
// test then restarts on the same data directory and ports.
//
// After every job it checks that the job either produced output
// byte-identical to a fault-free run, or failed with an error naming the
// task and committed only whole, correct part files (and a rerun to a fresh
// output is correct); that no `_temporary` directory, shuffle data or
// hidden temporary file (".NAME.tmp-…", as pmem.CreateFile and the shuffle
// stores name them) is left; that a stateful counter never goes back below
// a count it acknowledged; and that every activation record returned to a
// blocking invoke is still found by its id after restarts.
//
// The short run (about a minute) is the default:
//
//	go test -count=1 -v ./invoker/chaos/
//
// A longer one, with a seed to replay the schedule of kills:
//
//	go test -count=1 -v -timeout 30m ./invoker/chaos/ -chaos.duration 10m -chaos.seed 42
//	MARVEL_LONG=1 go test -count=1 -v -timeout 30m ./invoker/chaos/
//
// A seed replays the schedule (which kind of process is killed, and after
// how long), not the interleaving with the jobs, which depends on timing.
package chaos
