package chaos

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// proc is a process seen in /proc.
type proc struct {
	pid, ppid int
	state     string
	start     uint64 // in clock ticks after boot: tells a reused pid apart
	cmdline   string // arguments joined by spaces
}

func (p proc) String() string { return fmt.Sprintf("%d(%s)%q", p.pid, p.state, p.cmdline) }

// alive reports whether p still runs (it exists, is the same process, and
// is not a zombie).
func (p proc) alive() bool {
	q, ok := readProc(p.pid)
	return ok && q.start == p.start && q.state != "Z"
}

// readProc reads /proc/PID.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(st[i+1:])
	if len(f) < 20 {
		return proc{}, false
	}
	p := proc{pid: pid, state: f[0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.start, _ = strconv.ParseUint(f[19], 10, 64) // field 22 of stat
	cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.cmdline = string(bytes.ReplaceAll(bytes.TrimRight(cl, "\x00"), []byte{0}, []byte{' '}))
	return p, true
}

// allProcs lists the processes in /proc.
func allProcs() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// tree is the live processes below a root: depth 1 its children, depth 2
// its grandchildren...
type tree struct {
	procs []proc
	depth []int
}

// descendants returns the live processes below pid.
func descendants(pid int) tree {
	kids := map[int][]proc{}
	for _, p := range allProcs() {
		kids[p.ppid] = append(kids[p.ppid], p)
	}
	var out tree
	type item struct{ pid, depth int }
	queue := []item{{pid, 0}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, k := range kids[n.pid] {
			if k.state != "Z" {
				out.procs = append(out.procs, k)
				out.depth = append(out.depth, n.depth+1)
			}
			queue = append(queue, item{k.pid, n.depth + 1})
		}
	}
	return out
}
