package instance

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat is what sweep reads of a process in /proc/PID/stat.
type procStat struct {
	pid, ppid, pgrp, sid int
	state                byte
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// "pid (comm) state ppid pgrp session ...": comm may hold anything,
	// so the fields start after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	st := procStat{pid: pid, state: f[0][0]}
	for n, p := range []*int{&st.ppid, &st.pgrp, &st.sid} {
		if *p, err = strconv.Atoi(f[n+1]); err != nil {
			return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	return st, nil
}

// holdsPipe reports whether process pid has one of the pipes (by inode)
// open.
func holdsPipe(pid int, inodes [2]uint64) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false // gone, or not ours to look at
	}
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		for _, ino := range inodes {
			if ino != 0 && link == "pipe:["+strconv.FormatUint(ino, 10)+"]" {
				return true
			}
		}
	}
	return false
}

// leftovers lists the live processes of the instance: those in the
// runtime's session or process group (whatever it started that did not
// start a session of its own) and those holding its output pipes (whatever
// did). A child of this process is never taken for a holder of the pipes:
// one forked for another instance holds every descriptor of this process
// until it executes.
func leftovers(sid int, inodes [2]uint64) []procStat {
	self := os.Getpid()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.state == 'Z' || st.state == 'X' {
			continue
		}
		if st.sid == sid || st.pgrp == sid || (st.ppid != self && holdsPipe(pid, inodes)) {
			out = append(out, st)
		}
	}
	return out
}

// sweep kills the instance's leftovers once the runtime is reaped: the
// action processes it started (in their own groups; they die with the
// runtime, but what they started does not) and anything else in its
// session. It returns how many it killed.
func (i *Instance) sweep() int {
	killed := map[int]bool{}
	deadline := time.Now().Add(sweepTimeout)
	for {
		procs := leftovers(i.pid, i.inodes)
		if len(procs) == 0 {
			return len(killed)
		}
		if time.Now().After(deadline) {
			i.log.Warn("processes of the runtime survive SIGKILL", "instance", i.cfg.Name, "pid", i.pid, "left", len(procs))
			return len(killed)
		}
		for _, p := range procs {
			if err := syscall.Kill(p.pid, syscall.SIGKILL); err == nil {
				killed[p.pid] = true
			}
		}
		time.Sleep(2 * time.Millisecond) // let the kernel finish them
	}
}
