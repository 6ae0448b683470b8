package daxguest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// guestLimit bounds the whole script (build, two boots); the script bounds
// each boot itself (MARVEL_DAX_TIMEOUT).
const guestLimit = 15 * time.Minute

// stepResult is one MARVEL-DAX-STEP of the guest.
type stepResult struct {
	Phase  int
	Name   string
	RC     int
	Secs   float64
	Failed []string // Go tests that printed --- FAIL inside the step
}

// serialReport is what the guest's serial console says.
type serialReport struct {
	Steps   []stepResult
	Results map[int]bool // phase → MARVEL-DAX-RESULT PASS
	Mode    []string     // "mode fsdax, method clwb" lines from the tests
	Killed  []string     // the host's notes of boots killed at their time limit
}

var (
	stepEnd  = regexp.MustCompile(`^MARVEL-DAX-STEP (\S+) END rc=(\d+)(?: secs=([0-9.]+))?`)
	stepBeg  = regexp.MustCompile(`^MARVEL-DAX-STEP (\S+) BEGIN`)
	result   = regexp.MustCompile(`^MARVEL-DAX-RESULT (PASS|FAIL) phase=(\d+)`)
	booted   = regexp.MustCompile(`^MARVEL-DAX-GUEST booted: .*phase (\d+)`)
	goFail   = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
	modeLine = regexp.MustCompile(`mode (fsdax|devdax), method (\S+),`)
	killed   = regexp.MustCompile(`^MARVEL-DAX-HOST boot \d+ killed`)
)

// parseSerial reads the markers init.sh prints (scripts/dax-guest/init.sh).
func parseSerial(log string) serialReport {
	rep := serialReport{Results: map[int]bool{}}
	phase := 0
	var failed []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case booted.MatchString(line):
			phase, _ = strconv.Atoi(booted.FindStringSubmatch(line)[1])
		case stepBeg.MatchString(line):
			failed = nil
		case stepEnd.MatchString(line):
			m := stepEnd.FindStringSubmatch(line)
			rc, _ := strconv.Atoi(m[2])
			secs, _ := strconv.ParseFloat(m[3], 64)
			rep.Steps = append(rep.Steps, stepResult{Phase: phase, Name: m[1], RC: rc, Secs: secs, Failed: failed})
			failed = nil
		case result.MatchString(line):
			m := result.FindStringSubmatch(line)
			p, _ := strconv.Atoi(m[2])
			rep.Results[p] = m[1] == "PASS"
		case goFail.MatchString(line):
			failed = append(failed, goFail.FindStringSubmatch(line)[1])
		case killed.MatchString(line):
			rep.Killed = append(rep.Killed, line)
		case modeLine.MatchString(line):
			rep.Mode = append(rep.Mode, strings.TrimSpace(line))
		}
	}
	return rep
}

// TestDAXGuest boots the guest through scripts/dax-guest.sh and requires
// every step of both boots to pass.
func TestDAXGuest(t *testing.T) {
	if os.Getenv("MARVEL_REQUIRE_DAX") != "1" {
		if os.Getenv("MARVEL_DAX") == "0" {
			t.Skip("MARVEL_DAX=0: not booting the DAX guest")
		}
		if testing.Short() {
			t.Skip("-short: the DAX guest takes about two minutes under TCG; MARVEL_REQUIRE_DAX=1 runs it anyway")
		}
		if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
			t.Skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86, or MARVEL_REQUIRE_DAX=1 to let scripts/dax-guest.sh install it); skipping the emulated-NVDIMM DAX tests")
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "dax-guest.sh")

	limit := guestLimit
	if d, ok := t.Deadline(); ok {
		limit = min(limit, time.Until(d)-30*time.Second)
	}
	if limit < time.Minute {
		t.Fatalf("only %v left before the go test timeout; the guest needs minutes (use -timeout 20m)", limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()

	logPath := filepath.Join(t.TempDir(), "serial.log")
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "MARVEL_DAX_LOG="+logPath)
	if os.Getenv("MARVEL_DAX_TIMEOUT") == "" {
		// Each boot may take at most half of what is left.
		cmd.Env = append(cmd.Env, fmt.Sprintf("MARVEL_DAX_TIMEOUT=%d", max(60, int(limit.Seconds()/2))))
	}
	// The script, timeout (--foreground) and qemu share a process group: on
	// our deadline all of them get SIGTERM (the script then removes its
	// work directory), and SIGKILL 10 s later.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		time.AfterFunc(10*time.Second, func() { syscall.Kill(-pgid, syscall.SIGKILL) })
		return syscall.Kill(-pgid, syscall.SIGTERM)
	}
	cmd.WaitDelay = 15 * time.Second
	start := time.Now()
	out, runErr := cmd.CombinedOutput()
	took := time.Since(start).Round(time.Second)
	serial, _ := os.ReadFile(logPath)

	rep := parseSerial(string(serial))
	for _, s := range rep.Steps {
		t.Logf("boot %d step %-12s rc=%d %6.1fs", s.Phase, s.Name, s.RC, s.Secs)
	}
	for _, m := range rep.Mode {
		t.Logf("observed: %s", m)
	}
	// The script's own messages; the rest of its output is the console.
	var host []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "[dax-guest") || strings.HasPrefix(l, "MARVEL-DAX-HOST") || len(serial) == 0 {
			host = append(host, l)
		}
	}
	t.Logf("scripts/dax-guest.sh took %v and said:\n%s", took, strings.Join(host, "\n"))

	var problems []string
	if ctx.Err() != nil {
		problems = append(problems, fmt.Sprintf("killed after %v (limit)", limit))
	}
	if runErr != nil {
		problems = append(problems, fmt.Sprintf("scripts/dax-guest.sh: %v", runErr))
	}
	for _, k := range rep.Killed {
		problems = append(problems, strings.TrimPrefix(k, "MARVEL-DAX-HOST "))
	}
	for _, s := range rep.Steps {
		if s.RC != 0 {
			p := fmt.Sprintf("boot %d step %s failed (rc=%d)", s.Phase, s.Name, s.RC)
			if len(s.Failed) > 0 {
				p += ": " + strings.Join(s.Failed, ", ")
			}
			problems = append(problems, p)
		}
	}
	phases := []int{1, 2}
	if os.Getenv("MARVEL_DAX_REBOOT") == "0" {
		phases = phases[:1]
	}
	for _, p := range phases {
		if !rep.Results[p] {
			problems = append(problems, fmt.Sprintf("boot %d did not report MARVEL-DAX-RESULT PASS", p))
		}
	}
	if len(problems) == 0 {
		return
	}
	t.Logf("guest serial console (%s):\n%s", logPath, serial)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestParseSerial checks the marker parser on a console excerpt.
func TestParseSerial(t *testing.T) {
	log := `MARVEL-DAX-GUEST booted: 6.1.0-56-amd64, phase 1, 2 cpus
MARVEL-DAX-STEP modules BEGIN
MARVEL-DAX-STEP modules END rc=0 secs=1.08
MARVEL-DAX-STEP dax-tests BEGIN
    dax_guest_test.go:155: /mnt/dax/ns/t-1/r: mode fsdax, method clwb, 1 flushes (10000 bytes), 70000 NT bytes, 1 fences
    --- FAIL: TestDAXGuestCrashPoints/delete (1.00s)
--- FAIL: TestDAXGuestCrashPoints (1.00s)
MARVEL-DAX-STEP dax-tests END rc=1 secs=32.59
MARVEL-DAX-RESULT FAIL phase=1 failed=dax-tests
MARVEL-DAX-GUEST booted: 6.1.0-56-amd64, phase 2, 2 cpus
MARVEL-DAX-STEP mount BEGIN
MARVEL-DAX-STEP mount END rc=0 secs=0.11
MARVEL-DAX-RESULT PASS phase=2
MARVEL-DAX-HOST boot 2 killed after 600s
`
	rep := parseSerial(log)
	want := []stepResult{
		{Phase: 1, Name: "modules", RC: 0, Secs: 1.08},
		{Phase: 1, Name: "dax-tests", RC: 1, Secs: 32.59, Failed: []string{"TestDAXGuestCrashPoints/delete", "TestDAXGuestCrashPoints"}},
		{Phase: 2, Name: "mount", RC: 0, Secs: 0.11},
	}
	if fmt.Sprint(rep.Steps) != fmt.Sprint(want) {
		t.Errorf("steps %+v, want %+v", rep.Steps, want)
	}
	if rep.Results[1] || !rep.Results[2] {
		t.Errorf("results %v, want phase 1 FAIL and phase 2 PASS", rep.Results)
	}
	if len(rep.Killed) != 1 {
		t.Errorf("killed %q, want one line", rep.Killed)
	}
	if len(rep.Mode) != 1 || !strings.Contains(rep.Mode[0], "mode fsdax, method clwb") {
		t.Errorf("mode lines %q", rep.Mode)
	}
}
