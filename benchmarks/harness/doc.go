// Package harness is `marvel bench`: it runs MapReduce jobs (wordcount,
// sort, grep) with each shuffle store (pmem, redis, s3, disk) on this
// machine, checks that every store computes the same output, and reports
// what each took, as a table, results.json, results.csv and plots.
//
//	o := harness.QuickOptions() // or DefaultOptions(): 4 GiB inputs, 3 repetitions
//	o.Binary = "/usr/local/bin/marvel"
//	rep, err := harness.Run(ctx, o, &harness.Lines{W: os.Stderr})
//	...
//	harness.WriteTable(os.Stdout, rep)
//	harness.WriteResults("out", rep)
//	harness.WritePlots("out", rep, harness.PlotPNG)
//
// # What a run does
//
//  1. Starts the single-node stack in this process (invoker/standalone:
//     the invoker and the OpenWhisk API, no HDFS bridge) over the data
//     directory, by default a new directory under /dev/shm, with emulated
//     PMEM, and a real redis-server and a real MinIO (package
//     mapreduce/shuffle/servers) with their files under the scratch
//     directory, by default a new directory under /var/tmp.
//  2. Generates the inputs into the namespace's files, deterministic in the
//     seed: Zipf text for wordcount and grep (one file, shared), TeraGen
//     records for sort; it checksums the records (count and CRC sum, as
//     TeraValidate).
//  3. Deploys the task action (`marvel mr-task`, stateless, Concurrency
//     instances) and warms its instances with a small job, so that no
//     measured run pays cold starts.
//  4. Runs every workload on every store, Repeat times, interleaved: for
//     each repetition, for each workload, for each store. Drift (page
//     cache, a neighbour on the host) then hits every store alike.
//  5. Checks each output against the first store's output of its workload:
//     the SHA-256 of the part files concatenated must be equal (a
//     difference is ErrOutputMismatch), and a sort output must be
//     globally ordered with the input's record count and checksum. The
//     output is then removed, so only one job's output exists at a time.
//  6. Summarizes: per workload × store the median job time and its min and
//     max, the medians of the stage and task times, bytes shuffled and
//     GB-seconds; per workload PMEM's speedup against each other store,
//     the ratio of the medians, with the targets for sort (≥ 3×
//     s3, ≥ 1.5× redis, ≥ 2× disk at FullSize).
//
// # Storage, as reported
//
// The report names what each store stands on (Storage.Summary), e.g. "PMEM
// emulated on tmpfs (DRAM); disk = ext4 with fsync; redis =
// redis-server 7.0.15, no persistence; s3 = MinIO on ext4". On a machine
// without persistent memory the pmem store is emulated: on tmpfs that is
// persistence at memory speed, which is what PMEM would give; the disk
// store must be on a real disk for its fsyncs to mean anything. Injected
// latency (Options.Latency) applies to redis and s3 only and labels those
// stores ("redis+2ms"); no target applies to them.
//
// # Goroutines and processes
//
// Run holds no goroutine of its own after it returns. While it runs, the
// stack serves the API (invoker/standalone), the driver runs one goroutine
// per task of the current stage (mapreduce/driver), and the servers are
// child processes that die with this one (servers). Progress is called
// from one goroutine at a time.
//
// # Caveats
//
//   - Times are of one machine, with everything on it: the tasks, the
//     stack, redis-server and MinIO share its cores, so a store whose
//     server burns CPU (MinIO) slows the tasks too. That is the
//     single-node deployment Marvel targets, not a datacenter network.
//   - The first run of a fresh machine may pay first-touch page faults the
//     others do not; repeat (the default full run repeats 3 times) and
//     read the medians and spreads.
//   - Full size needs room: the data directory holds both inputs, and
//     during a job its shuffle (pmem) and its output; Run refuses to start
//     (ErrNoRoom) when the data directory has too little space.
//   - Outputs are compared by digest, not kept: rerun a single job with
//     `marvel job run` to inspect one.
package harness
