// Package mapreduce is the task side of Marvel's MapReduce jobs: the
// workloads (wordcount, grep, sort), the protocol between the job driver
// and the map and reduce actions, input generators and splitting, and a
// TeraValidate-style checker for sort.
//
// # Jobs
//
// A driver cuts the input file into M splits (Splits, with the workload's
// InputRecordSize), invokes one map task per split and, once every map
// task has succeeded, one reduce task per reducer (R of them), all as
// activations of the workload's stateless action (actions/wordcount,
// actions/grep, actions/sort, or `marvel mr-task` for all three):
//
//	driver                 map action (M)              shuffle store        reduce action (R)
//	  | Task{phase:map} -->  map input[off,off+len)
//	  |                      combine, partition ------>  JOB/mTTTTT-aA/rRRRRR
//	  | <-- MapResult{keys}
//	  | Task{phase:reduce, inputs: key r of each map's successful attempt} ----------> Get, reduce
//	  |                                                                    write DIR/_temporary/rRRRRR-aA/part-r-RRRRR
//	  | <-- ReduceResult                                                   (durable: temp, fsync, rename)
//	  | CommitOutput(temp -> DIR/part-r-RRRRR), DeletePrefix(JOB/)
//
// Paths in tasks are relative to the namespace's files directory
// (MARVEL_FILES_DIR, sdk.Files); absolute paths, ".." and components
// starting with a dot are refused.
//
// # Workloads
//
//   - wordcount: words are maximal runs of letters (unicode.IsLetter),
//     lower-cased; output lines "word\tcount\n" sorted by word (bytes).
//   - grep (GrepArgs): every match of a Go regexp in each line, counted by
//     matched text; output "match\tcount\n" sorted by match.
//   - sort (SortArgs): 100-byte records with a 10-byte key, TeraSort-style:
//     the map range-partitions by R-1 split points (SampleRecords,
//     SampleSplitPoints) and sorts, the reduce merges; parts 0..R-1
//     concatenated are the input in order (check with ValidateSort).
//
// Text splits are read by the line rule of LineRange (Hadoop's
// LineRecordReader): a line belongs to the split holding its first byte, so
// every line is processed once however the splits cut the file. Sort splits
// are record-aligned.
//
// The counting workloads combine in the map and partition by
// HashPartition (FNV-1a of the key mod R). Partitions are encoded in the
// format of package internal/partition: a 32-byte header (magic, version,
// kind, entry count, CRC-32C of the body and of the header) and entries in
// key order, (uvarint length, key, uvarint count) or raw 100-byte records.
// A reduce task checks both checksums and every length; a partition that
// does not decode fails the task with an *InputError (ErrCorrupt) naming
// its key.
//
// # Attempts and failures
//
// Every attempt writes under names of its own (ShuffleKey and TempOutput
// carry the attempt number), so a retried task never mixes with what a
// failed attempt left; the driver passes each reducer the keys of the
// successful map attempts only, and commits a reduce attempt's output by
// renaming it (CommitOutput). A failed task returns a Failure whose reason
// says what to do: invalid and bad_input (do not retry), input_missing and
// corrupt_input (rerun the maps of "keys"), failed (retry).
//
// Task.Fail is a test hook for the driver's retry tests: it makes a given
// attempt write part of its output and then exit the process (status 3),
// return an error, or hang until its deadline.
//
// # Generators
//
// GenerateText (Zipf-distributed words) and GenerateRecords (TeraGen
// layout) are deterministic in their seed and stream to an io.Writer, so
// inputs of many gigabytes take no memory.
//
// # Caveats
//
//   - A map task maps its input file and holds its partitions in memory
//     until they are written; a reduce task holds its inputs, and for
//     wordcount and grep a table of the distinct keys. Size splits and R so
//     that a task's share fits the action's memory.
//   - Timings: a map's "read" is opening and mapping the file; the page
//     faults of reading it through the mapping count in "compute".
//   - Grep keys may contain tabs, which the output format does not escape.
//   - The "exit" failure hook ends the process with os.Exit: the one place
//     below main that does, and only when a task asks for it.
package mapreduce
