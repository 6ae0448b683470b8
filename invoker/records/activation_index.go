package records

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"sort"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// entry is one activation record in the index: what its summary needs and
// where its frame is.
type entry struct {
	id          [16]byte
	ns, name    string
	subject     string
	version     string
	cause       string
	start, end  int64
	duration    int64
	status      int8 // summary status code, -1 for none
	publish     bool
	dead        bool   // dropped from the index (retention or a later duplicate)
	annotations []byte // JSON, nil for none
	seq         uint64 // append order
	seg         *segment
	off         int64 // of the frame in seg
	size        int64 // of the frame, header included
}

// summary is the list form of the record, from the index alone.
func (e *entry) summary() whisk.Activation {
	a := whisk.Activation{
		Namespace:    e.ns,
		Name:         e.name,
		Subject:      e.subject,
		ActivationID: hex.EncodeToString(e.id[:]),
		Start:        e.start,
		End:          e.end,
		Duration:     e.duration,
		Cause:        e.cause,
		Version:      e.version,
		Publish:      e.publish,
	}
	if e.status >= 0 {
		c := int(e.status)
		a.StatusCode = &c
	}
	if e.annotations != nil {
		// Checked when appended or recovered; a failure leaves none.
		_ = json.Unmarshal(e.annotations, &a.Annotations)
	}
	return a
}

// segment is one segment file. The last one of the index is the one being
// written.
type segment struct {
	num  uint64
	path string
	size int64 // bytes of complete frames (and header)
	live int   // entries in the index
}

// nsIndex is a namespace's entries ordered by (start, seq), dead ones
// included until compacted.
type nsIndex struct {
	recs []*entry
	live int
	dead int
}

func before(a, b *entry) bool {
	return a.start < b.start || a.start == b.start && a.seq < b.seq
}

func (n *nsIndex) insert(e *entry) {
	if k := len(n.recs); k == 0 || before(n.recs[k-1], e) {
		n.recs = append(n.recs, e)
	} else {
		i := sort.Search(k, func(i int) bool { return before(e, n.recs[i]) })
		n.recs = slices.Insert(n.recs, i, e)
	}
	n.live++
}

func (n *nsIndex) compact() {
	if n.dead < 64 || n.dead*2 < len(n.recs) {
		return
	}
	n.recs = slices.DeleteFunc(n.recs, func(e *entry) bool { return e.dead })
	n.dead = 0
}

// index holds every activation record kept, by id, by namespace and in
// append order, and the segments that hold them. The Store's mu guards it;
// only the writer goroutine (and Open) changes it.
type index struct {
	byID   map[[16]byte]*entry
	ns     map[string]*nsIndex
	order  []*entry // append order, from head on; dead ones included
	head   int
	segs   []*segment
	live   int
	bytes  int64 // sum of segs' sizes
	seq    uint64
	intern map[string]string
	// annotations interns the entries' annotations: an action's records
	// mostly carry the same ones (path, kind, limits; waitTime varies a
	// little), and they are about half of an entry's memory. Reset when
	// it reaches maxAnnotations, so that it stays bounded.
	annotations map[string][]byte
}

const maxAnnotations = 4096

func newIndex() *index {
	return &index{byID: map[[16]byte]*entry{}, ns: map[string]*nsIndex{}, intern: map[string]string{},
		annotations: map[string][]byte{}}
}

func (x *index) internAnnotationsLocked(b []byte) []byte {
	if b == nil {
		return nil
	}
	if v, ok := x.annotations[string(b)]; ok {
		return v
	}
	if len(x.annotations) >= maxAnnotations {
		clear(x.annotations)
	}
	x.annotations[string(b)] = b
	return b
}

func (x *index) internLocked(s string) string {
	if v, ok := x.intern[s]; ok {
		return v
	}
	x.intern[s] = s
	return s
}

// addLocked adds e (its seg, off and size set). An entry with the same id
// already there is dropped: the later one wins.
func (x *index) addLocked(e *entry) {
	if old := x.byID[e.id]; old != nil {
		x.killLocked(old)
	}
	x.seq++
	e.seq = x.seq
	e.ns, e.name = x.internLocked(e.ns), x.internLocked(e.name)
	e.subject, e.version = x.internLocked(e.subject), x.internLocked(e.version)
	e.annotations = x.internAnnotationsLocked(e.annotations)
	x.byID[e.id] = e
	n := x.ns[e.ns]
	if n == nil {
		n = &nsIndex{}
		x.ns[e.ns] = n
	}
	n.insert(e)
	x.order = append(x.order, e)
	e.seg.live++
	x.live++
}

// killLocked drops e from the index.
func (x *index) killLocked(e *entry) {
	if e.dead {
		return
	}
	e.dead = true
	if x.byID[e.id] == e {
		delete(x.byID, e.id)
	}
	n := x.ns[e.ns]
	n.live--
	n.dead++
	if n.live == 0 {
		delete(x.ns, e.ns)
	} else {
		n.compact()
	}
	e.seg.live--
	x.live--
}

// popLocked removes the oldest entry of the append order.
func (x *index) popLocked() *entry {
	e := x.order[x.head]
	x.order[x.head] = nil
	x.head++
	if x.head >= 1024 && x.head*2 >= len(x.order) {
		x.order = slices.Clone(x.order[x.head:])
		x.head = 0
	}
	return e
}

// retainLocked applies the retention rules and returns the segments it
// dropped from the index (their files are the caller's to remove): the
// oldest records go first while there are more than maxRecords, whole
// oldest segments while the segments hold more than maxBytes, and any
// segment left without records; never the last segment.
func (x *index) retainLocked(maxRecords int, maxBytes int64) (dropped []*segment, records int) {
	for x.live > maxRecords {
		if e := x.popLocked(); !e.dead {
			x.killLocked(e)
			records++
		}
	}
	for len(x.segs) > 1 && (x.bytes > maxBytes || x.segs[0].live == 0) {
		g := x.segs[0]
		for x.head < len(x.order) && x.order[x.head].seg == g {
			if e := x.popLocked(); !e.dead {
				x.killLocked(e)
				records++
			}
		}
		x.segs[0] = nil
		x.segs = x.segs[1:]
		x.bytes -= g.size
		dropped = append(dropped, g)
	}
	return dropped, records
}

// eachLocked calls fn on the live entries of ns that match q's filters,
// newest start first (ties: later appended first), until fn returns false.
func (x *index) eachLocked(ns string, q Query, fn func(*entry) bool) {
	n := x.ns[ns]
	if n == nil {
		return
	}
	lo, hi := 0, len(n.recs)
	if q.Since > 0 {
		lo = sort.Search(len(n.recs), func(i int) bool { return n.recs[i].start >= q.Since })
	}
	if q.Upto > 0 {
		hi = sort.Search(len(n.recs), func(i int) bool { return n.recs[i].start > q.Upto })
	}
	for i := hi - 1; i >= lo; i-- {
		e := n.recs[i]
		if e.dead || q.Name != "" && e.name != q.Name {
			continue
		}
		if !fn(e) {
			return
		}
	}
}
