// Package sdk is what a Go action links to run under the Marvel runtime: the
// ActionLoop (Serve), the activation's context (Current), persistent state
// with a warm cache (OpenState) and durable named files in the function's
// namespace (OpenFiles).
//
// # Writing an action
//
// An action is a main package with a Main function in the shape the
// OpenWhisk Go runtime uses:
//
//	func Main(args map[string]any) map[string]any
//	func Main(args map[string]any) (map[string]any, error)
//
// (arrays, []any, are accepted in place of either map; see Serve). Source
// actions sent to /init are compiled with a generated launcher that calls
// Serve(Main); a precompiled action calls it from its own main:
//
//	func main() { sdk.Main(Main) }
//
// # State
//
// OpenState returns the function's store: a crash-consistent key–value store
// in the persistent-memory region the runtime opened for this namespace and
// action, with a ristretto cache in front of it. The process lives across
// warm activations, and so does the cache; the region also survives cold
// starts, restarts of the runtime and crashes. A Put has returned only once
// the value is durable.
//
// # Files
//
// OpenFiles returns the namespace's named files: whole byte sequences written
// once (shuffle partitions, outputs) and read through a mapping, visible to
// the other actions of the namespace and to the HDFS bridge.
//
// # What the runtime hands over
//
// The runtime describes the region in the environment: MARVEL_REGION_FD (an
// inherited, locked, read-write descriptor) or MARVEL_REGION_PATH, plus
// MARVEL_REGION (its name), MARVEL_REGION_BYTES (its size), MARVEL_PMEM_MODE, MARVEL_REGION_MAX,
// MARVEL_CACHE_BYTES and MARVEL_FILES_DIR. Outside the runtime, setting
// MARVEL_REGION_PATH and MARVEL_FILES_DIR is enough to run an action by hand.
package sdk
