package chaos

import "github.com/marvel-serverless/marvel/internal/testbin"

// proc is a process seen in /proc.
type proc = testbin.Proc

// readProc and allProcs read /proc.
var (
	readProc = testbin.ReadProc
	allProcs = testbin.AllProcs
)

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
		kids[p.PPID] = append(kids[p.PPID], p)
	}
	var out tree
	type item struct{ pid, depth int }
	queue := []item{{pid, 0}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, k := range kids[n.pid] {
			if k.State != "Z" {
				out.procs = append(out.procs, k)
				out.depth = append(out.depth, n.depth+1)
			}
			queue = append(queue, item{k.PID, n.depth + 1})
		}
	}
	return out
}
