package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/runtime/proxy"
	"github.com/marvel-serverless/marvel/runtime/sdk"
)

// demoRuntime runs a counter action under the real action proxy (HTTP,
// ActionLoop, the region handed to the action): warm activations with the
// cache, a kill -9 of the action process, a cold start in a new runtime, and
// warm /run latency beside a new process per activation.
func (d *demoCmd) demoRuntime(ctx context.Context, out io.Writer, exe, dir string) error {
	fmt.Fprintf(out, "An OpenWhisk action keeps its state in its region, and its cache warm (marvel runtime)\n")
	work, err := os.MkdirTemp("", "marvel-demo-runtime-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(work)
	// The action: a #! script that runs the SDK counter built into marvel.
	code := "#!/bin/sh\nexec '" + strings.ReplaceAll(exe, "'", `'\''`) + "' demo-action\n"
	init := map[string]any{"value": map[string]any{"name": "counter", "main": "main", "code": code, "binary": false,
		"env": map[string]string{"__OW_NAMESPACE": "guest", "__OW_ACTION_NAME": "/guest/counter"}}}
	run := map[string]any{"value": map[string]any{}, "namespace": "guest", "action_name": "/guest/counter"}

	// The action runs the marvel binary again; it sees only the environment
	// the runtime builds, so pass on what running that binary needs.
	var env []string
	for _, k := range []string{"PATH", "HOME", "MARVEL_MAIN_TEST_CHILD" /* cmd/marvel's tests re-run their binary as marvel */} {
		if v := d.env.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	rt, err := startDemoRuntime(dir, filepath.Join(work, "a"), env)
	if err != nil {
		return err
	}
	defer rt.close()
	if _, err := rt.post(ctx, "/init", init); err != nil {
		return err
	}
	var counts []string
	var last demoCount
	for range 3 {
		if last, err = rt.count(ctx, run); err != nil {
			return err
		}
		counts = append(counts, fmt.Sprint(last.Count))
	}
	fmt.Fprintf(out, "   three warm activations: count %s; cache hit ratio %.2f (region %s)\n", strings.Join(counts, " → "), last.HitRatio, last.Region)

	pid := rt.srv.Stats().Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("demo: kill -9 the action process %d: %w", pid, err)
	}
	for deadline := time.Now().Add(5 * time.Second); processAlive(pid) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if last, err = rt.count(ctx, run); err != nil {
		return err
	}
	fmt.Fprintf(out, "   kill -9 of the action process (pid %d); the next activation ran in a new one: count %d\n", pid, last.Count)
	rt.close()

	rt, err = startDemoRuntime(dir, filepath.Join(work, "b"), env)
	if err != nil {
		return err
	}
	defer rt.close()
	if _, err := rt.post(ctx, "/init", init); err != nil {
		return err
	}
	if last, err = rt.count(ctx, run); err != nil {
		return err
	}
	fmt.Fprintf(out, "   a new runtime (a cold start) opened the same region: count %d\n", last.Count)

	const warm, cold = 300, 30
	var lat []time.Duration
	for range warm {
		t := time.Now()
		if _, err := rt.count(ctx, run); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	var base []time.Duration
	baseRegion := filepath.Join(dir, "fn+guest+baseline.region")
	for begin := time.Now(); len(base) < cold && (len(base) < 3 || time.Since(begin) < 2*time.Second); {
		t := time.Now()
		if err := oneShot(ctx, exe, baseRegion); err != nil {
			return err
		}
		base = append(base, time.Since(t))
	}
	w, b := median(lat), median(base)
	fmt.Fprintf(out, "   warm /run (HTTP, one durable write) p50 %v; a new process per activation p50 %v (%.0fx)\n\n",
		w.Round(time.Microsecond), b.Round(10*time.Microsecond), float64(b)/float64(w))
	return nil
}

type demoRuntime struct {
	srv *proxy.Server
	hs  *http.Server
	url string
	nul *os.File
}

func startDemoRuntime(data, work string, env []string) (*demoRuntime, error) {
	nul, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	opts := proxy.DefaultOptions()
	opts.Data, opts.WorkDir = data, work
	opts.Stdout, opts.Stderr = nul, nul // the action's logs and the sentinels
	opts.Env = env
	srv, err := proxy.New(opts)
	if err != nil {
		nul.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		nul.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	return &demoRuntime{srv: srv, hs: hs, url: "http://" + ln.Addr().String(), nul: nul}, nil
}

func (r *demoRuntime) close() {
	if r.hs == nil {
		return
	}
	r.srv.Close()
	r.hs.Close()
	r.nul.Close()
	r.hs = nil
}

func (r *demoRuntime) post(ctx context.Context, path string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("demo: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("demo: POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(out))
	}
	return out, err
}

type demoCount struct {
	Count    int64   `json:"count"`
	HitRatio float64 `json:"hit_ratio"`
	Region   string  `json:"region"`
	Error    string  `json:"error"`
}

func (r *demoRuntime) count(ctx context.Context, run any) (demoCount, error) {
	var c demoCount
	b, err := r.post(ctx, "/run", run)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil && c.Error != "" {
		err = fmt.Errorf("demo: the counter action failed: %s", c.Error)
	}
	return c, err
}

// oneShot is the stateless model: a new process for one activation, which
// opens the state, answers and exits.
func oneShot(ctx context.Context, exe, region string) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, exe, "demo-action")
	cmd.Stdin = strings.NewReader(`{"value":{}}` + "\n")
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Env = append(os.Environ(), "MARVEL_REGION_PATH="+region)
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("demo: %w", err)
	}
	pw.Close()
	line, rerr := bufio.NewReader(pr).ReadBytes('\n')
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("demo: one-shot activation: %w", err)
	}
	if rerr != nil || !bytes.Contains(line, []byte(`"count"`)) {
		return fmt.Errorf("demo: one-shot activation answered %q (%v)", line, rerr)
	}
	return nil
}

// processAlive reports whether pid still exists, reaped or not. A zombie
// leader is not enough to go on: the other threads of a Go process may still
// be on their way out, one of them in read(2) on stdin.
func processAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// demoActionCommand is the demo's action: the SDK counter, run as an
// ActionLoop process by the runtime (hidden).
func (a *app) demoActionCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "demo-action",
		Short:  "Run the demo's counter action (ActionLoop on stdin and fd 3)",
		Hidden: true,
		Args:   a.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sdk.Serve(demoCounter)
		},
	}
}

// demoCounter adds one to the action's persistent counter.
func demoCounter(map[string]any) (map[string]any, error) {
	st, err := sdk.OpenState()
	if err != nil {
		return nil, err
	}
	n, err := sdk.GetJSON[int64](st, "count")
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return nil, err
	}
	n++
	if err := sdk.PutJSON(st, "count", n); err != nil {
		return nil, err
	}
	stats := st.Stats()
	return map[string]any{"count": n, "hit_ratio": stats.HitRatio, "region": stats.Region}, nil
}
