// Package records is the invoker's durable store of actions and activation
// records, kept under one data directory so that both survive a restart,
// kill -9 included, of marvel standalone.
//
//	s, err := records.Open("/var/lib/marvel", records.Options{})
//	defer s.Close()
//	a, err := s.UpdateAction("guest", "hello", func(cur *whisk.Action) (*whisk.Action, error) {
//		... return the new action, nil ...
//	})
//	err = s.Append(activation)                  // durable when it returns
//	list, err := s.ListActivations("guest", records.Query{Limit: 30}, false)
//
// # Layout
//
//	<dir>/LOCK                                   flock: one process at a time
//	<dir>/actions/<namespace>/<name>.action      one file per action
//	<dir>/actions/<namespace>/<name>.action.tmp  an interrupted write (removed at Open)
//	<dir>/activations/seg-0000000001.log         activation segments, oldest first
//
// Namespace and action names are escaped into file names (escapeName in
// names.go): lower-case letters, digits, '_', '-', '@' and inner '.' stay,
// any other byte is %xx, and a long result ends in a hash. The file holds
// the real names. The byte layouts are in package internal/format.
//
// # Actions
//
// The metadata of every action is loaded at Open and served from memory;
// the code (up to 4 GiB by the format, 48 MB in practice) stays on disk and
// is read, and its checksum checked, only when asked for. An update writes
// a temp file, syncs it, renames it over the action's file and syncs the
// directory, so a crash leaves the old or the new version, never a mix.
// Updates of one action are serialised; updates of different actions run
// in parallel.
//
// # Activations
//
// Records are appended to the last segment, each in a checksummed frame,
// and a new segment is started past Options.SegmentBytes. An in-memory
// index holds, for every record, what its summary needs and where its frame
// is, so lists of summaries never read the disk; full records are read and
// checked one by one.
//
// Append hands the record to the store's writer goroutine and waits. The
// writer takes every append queued while it was busy, writes them with one
// write, syncs them with one fdatasync (group commit), publishes them in
// the index and answers: an append returns after its record is durable.
//
// Retention drops the oldest records beyond Options.MaxActivations from the
// index, and whole oldest segments while the segments exceed
// Options.MaxBytes; a segment left without records is deleted. The segment
// being written is never deleted.
//
// # Recovery
//
// Open reads every action's metadata and every segment, checking every
// checksum, before it changes anything. Damage fails Open with a
// *CorruptError naming the file and the offset (move the file aside and
// open again). The exception is the end of the last segment, where a crash
// leaves a write half done: a bad record there with no intact record of a
// later group commit after it is a torn write; it and what follows are cut
// away and logged. Each frame records where its group commit starts,
// which is what tells the two apart (see internal/format).
//
// # Goroutines
//
// One per open Store: the writer, started by Open, owning the active
// segment's file, the only changer of the activation index; Close waits for
// the operations in flight, closes its queue and waits for it to drain.
//
// # Caveats
//
//   - Damage inside the last group commit of the last segment cannot be
//     told from a torn write: it is cut away (and logged) like one.
//   - Retention by MaxBytes and segment deletion act on whole segments; a
//     removal is not synced, so a crash can bring a dropped segment back,
//     and the next Open drops it again.
//   - The index costs memory for each record kept: about 250 bytes plus its
//     annotations.
//   - An action's metadata is served from memory, its code from its file:
//     a GetAction with code racing an update may return the newer version.
//   - The directory lock is flock, which is advisory and local: do not put
//     the store on NFS.
package records
