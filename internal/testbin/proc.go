package testbin

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Proc is a process seen in /proc, for tests that find and kill the
// children the stack starts.
type Proc struct {
	PID, PPID int
	State     string // R, S, Z, ...
	Start     uint64 // in clock ticks after boot: tells a reused pid apart
	Cmdline   string // arguments joined by spaces
}

func (p Proc) String() string { return fmt.Sprintf("%d(%s)%q", p.PID, p.State, p.Cmdline) }

// Alive reports whether p still runs: it exists, is the same process, and
// is not a zombie.
func (p Proc) Alive() bool {
	q, ok := ReadProc(p.PID)
	return ok && q.Start == p.Start && q.State != "Z"
}

// ReadProc reads /proc/PID.
func ReadProc(pid int) (Proc, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Proc{}, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	if i < 0 {
		return Proc{}, false
	}
	f := strings.Fields(st[i+1:])
	if len(f) < 20 {
		return Proc{}, false
	}
	p := Proc{PID: pid, State: f[0]}
	p.PPID, _ = strconv.Atoi(f[1])
	p.Start, _ = strconv.ParseUint(f[19], 10, 64) // field 22 of stat
	cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	p.Cmdline = string(bytes.ReplaceAll(bytes.TrimRight(cl, "\x00"), []byte{0}, []byte{' '}))
	return p, true
}

// AllProcs lists the processes in /proc.
func AllProcs() []Proc {
	ents, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := ReadProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}
