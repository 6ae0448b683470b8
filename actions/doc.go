// Package actions holds Marvel's example actions, each a main package that
// runs under `marvel runtime` (precompiled, or sent as Go source to /init):
//
//   - echo: returns its parameters unchanged;
//   - counter: a counter kept in the action's persistent-memory state;
//   - kv: a key–value store and file store over the SDK, with cache stats;
//   - wordcount, sort, grep: the MapReduce workloads' map and reduce tasks
//     (package mapreduce; "phase" in the parameters says which), the same
//     tasks `marvel mr-task` serves from the marvel binary.
//
// Each is split into action.go (the Main function, which /init can compile
// on its own with the generated launcher) and main.go (the launcher of the
// precompiled binary).
package actions
