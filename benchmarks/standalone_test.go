package benchmarks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	owclient "github.com/marvel-serverless/marvel/invoker/client"
)

// The benchmarks of `marvel standalone` run the real marvel command as a
// child process (the OpenWhisk API and the invoker in it, each action in a
// `marvel runtime` grandchild process kept warm) and talk to its API over
// loopback with package invoker/client, as wsk or an application would.

// echoParams are the invoke parameters: the value runBody sends to the
// runtime directly.
var echoParams = map[string]string{"name": "Marvel"}

// invokeEcho runs a blocking invocation of an echo action and checks its
// result.
func invokeEcho(c *owclient.Client, action string) error {
	inv, err := c.Invoke(context.Background(), action, echoParams, owclient.InvokeOptions{Blocking: true, Result: true})
	switch {
	case err != nil:
		return err
	case inv.Pending || !bytes.Contains(inv.Result, []byte("Marvel")):
		return fmt.Errorf("invoke %s: status %d, pending %v, result %s", action, inv.Status, inv.Pending, inv.Result)
	}
	return nil
}

// reportMicros reports p50 and p99 of lat in microseconds, with prefix.
func reportMicros(b *testing.B, prefix string, lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	p50, p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(float64(p50.Nanoseconds())/1e3, prefix+"p50-us")
	b.ReportMetric(float64(p99.Nanoseconds())/1e3, prefix+"p99-us")
	return p50, p99
}

// echoCode returns the echo action as its precompiled zip (base64, see
// echoZip) and as its Go source, or skips the benchmark.
func echoCode(b *testing.B) (zip, src string) {
	b.Helper()
	if _, err := echoAction(); err != nil {
		b.Skipf("standalone benchmarks need the echo action: %v", err)
	}
	source, err := os.ReadFile(filepath.Join(moduleRoot(), "actions", "echo", "action.go"))
	if err != nil {
		b.Skipf("standalone benchmarks need the echo action's source: %v", err)
	}
	_, zip = echoZip(b)
	return zip, string(source)
}

// actionCode is one form of an action's code: its label in benchmark
// names and the exec of its PUT.
type actionCode struct {
	label string
	exec  map[string]any
}

// codes are the two forms of the echo action the benchmarks deploy.
func codes(zip, src string) []actionCode {
	return []actionCode{{"zip", zipExec(zip)}, {"source", sourceExec(src)}}
}

// BenchmarkStandaloneWarmInvoke: a warm blocking invocation of the echo
// action (stateful, the default) through the API with its result (client
// → API → invoker → runtime → action and back, the action read from the
// records and the activation recorded durably), against a POST /run
// straight to a `marvel runtime` process serving the same action (client
// → runtime → action and back) as baseline. The two alternate in blocks of
// warmBlock in one loop, so that they share the machine's load but what
// one leaves running (the server's garbage collection) is seldom charged
// to the other; ns/op is their mean.
//
// The data directory (records, regions) is on disk (fdatasync reaches the
// disk) or on tmpfs (fdatasync costs nothing). The action's code is the
// precompiled zip (1.6 MB of base64) or the same echo as Go source (119
// bytes, built at its cold start): the same program runs, but the invoker
// handles the stored code on every invocation. The baseline always serves
// the zip.
func BenchmarkStandaloneWarmInvoke(b *testing.B) {
	const warmBlock = 50
	marvel(b)
	code, src := echoCode(b)
	dirs := backends(b)
	for _, data := range slices.Sorted(maps.Keys(dirs)) {
		for _, c := range codes(code, src) {
			b.Run("data="+data+"/code="+c.label, func(b *testing.B) {
				dir, err := os.MkdirTemp(dirs[data], "warm-")
				if err != nil {
					b.Fatal(err)
				}
				sa := startStandalone(b, filepath.Join(dir, "standalone"))
				sa.putAction(b, "echo", c.exec, nil)
				if err := invokeEcho(sa.client, "echo"); err != nil { // the cold start
					if c.label == "source" {
						b.Skipf("building a Go source action: %v", err)
					}
					b.Fatal(err)
				}
				rt := startRuntime(b, filepath.Join(dir, "runtime"))
				post(b, rt+"/init", initBody(b, code))
				for range 100 { // warm the connections and the processes
					if err := invokeEcho(sa.client, "echo"); err != nil {
						b.Fatal(err)
					}
					post(b, rt+"/run", []byte(runBody))
				}
				var api, direct []time.Duration
				i := 0
				for b.Loop() {
					t := time.Now()
					if i/warmBlock%2 == 0 {
						if err := invokeEcho(sa.client, "echo"); err != nil {
							b.Fatal(err)
						}
						api = append(api, time.Since(t))
					} else {
						post(b, rt+"/run", []byte(runBody))
						direct = append(direct, time.Since(t))
					}
					i++
				}
				a50, a99 := reportMicros(b, "api-", api)
				d50, d99 := reportMicros(b, "direct-", direct)
				b.ReportMetric(float64(a50)/float64(d50), "ratio-p50")
				b.ReportMetric(float64(a99)/float64(d99), "ratio-p99")
			})
		}
	}
}

// BenchmarkStandaloneColdStart: from invoke to result (blocking, the full
// activation record) when the invocation must start a new instance, split
// by the record's annotations: initTime (the invoker's cold start: region
// grant, `marvel runtime` started, /init with the code), waitTime (before
// that: an old instance stopped), the duration less initTime (the /run),
// and the rest (the API, reading the action, recording the activation,
// HTTP), all at the record's millisecond resolution. start is the part of
// initTime from the runtime process's start until it listens (the
// server's "runtime started" log line). Three ways to need a new instance:
//
//   - via=new-action: an action created just before (untimed); it is
//     deleted after, with its state (untimed).
//   - via=update: the same code put again, so the version changes: the
//     timed invoke also stops the old instance, which holds the region.
//   - via=new-code: as update, with code that differs each time (the zip
//     comment), so the action cache misses and /init inflates the zip.
//
// Except for new-code, the code is in the node's action cache (filled by
// an untimed first cold start): this is the cold start of code the node
// has run before, the usual one.
func BenchmarkStandaloneColdStart(b *testing.B) {
	marvel(b)
	code, _ := echoCode(b)
	zipped, err := base64.StdEncoding.DecodeString(code)
	if err != nil {
		b.Fatal(err)
	}
	for _, via := range []string{"new-action", "update", "new-code"} {
		b.Run("via="+via, func(b *testing.B) {
			sa := startStandalone(b, filepath.Join(b.TempDir(), "data"), "--log-level", "info")
			sa.putAction(b, "echo", zipExec(code), nil)
			if err := invokeEcho(sa.client, "echo"); err != nil { // fills the action cache
				b.Fatal(err)
			}
			var total, initT, start, run, wait, rest []time.Duration
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				name := "echo"
				switch via {
				case "new-action":
					name = fmt.Sprintf("echo-%d", i)
					sa.putAction(b, name, zipExec(code), nil)
				case "update":
					sa.putAction(b, name, zipExec(code), nil)
				case "new-code":
					sa.putAction(b, name, zipExec(base64.StdEncoding.EncodeToString(zipWithComment(zipped, i))), nil)
				}
				b.StartTimer()
				t := time.Now()
				inv, err := sa.client.Invoke(context.Background(), name, echoParams, owclient.InvokeOptions{Blocking: true})
				d := time.Since(t)
				b.StopTimer()
				if err != nil || inv.Activation == nil || inv.Activation.Response == nil || !inv.Activation.Response.Success {
					b.Fatalf("invoke %s: %v (%+v)", name, err, inv)
				}
				var initMs, waitMs int64
				if err := json.Unmarshal(inv.Activation.Annotations.Get("initTime"), &initMs); err != nil {
					b.Fatalf("invoke %s: not a cold start (no initTime annotation): %s", name, inv.Activation.Annotations.Get("initTime"))
				}
				json.Unmarshal(inv.Activation.Annotations.Get("waitTime"), &waitMs)
				ms := time.Millisecond
				if took, ok := sa.lastRuntimeStart(); ok {
					start = append(start, took)
				}
				total = append(total, d)
				initT = append(initT, time.Duration(initMs)*ms)
				run = append(run, time.Duration(inv.Activation.Duration-initMs)*ms)
				wait = append(wait, time.Duration(waitMs)*ms)
				rest = append(rest, d-time.Duration(inv.Activation.Duration+waitMs)*ms)
				if via == "new-action" {
					sa.deleteAction(b, name)
				}
				b.StartTimer()
			}
			p50 := func(lat []time.Duration) time.Duration { slices.Sort(lat); return lat[len(lat)/2] }
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
			t50 := p50(total)
			b.ReportMetric(ms(t50), "total-p50-ms")
			b.ReportMetric(ms(total[len(total)*99/100]), "total-p99-ms")
			b.ReportMetric(ms(p50(initT)), "init-p50-ms")
			if len(start) == len(total) {
				b.ReportMetric(ms(p50(start)), "start-p50-ms")
			}
			b.ReportMetric(ms(p50(run)), "run-p50-ms")
			b.ReportMetric(ms(p50(wait)), "wait-p50-ms")
			b.ReportMetric(ms(p50(rest)), "rest-p50-ms")
			b.ReportMetric(float64(p50(initT))/float64(t50), "init/total")
		})
	}
}

// zipWithComment returns the zip z with an 8-digit comment n, which
// changes its bytes (and so the action cache's key) but not its content.
// z must have no comment: it ends with its end-of-central-directory
// record, whose last field is the comment's length.
func zipWithComment(z []byte, n int) []byte {
	out := slices.Clone(z[:len(z)-2])
	out = binary.LittleEndian.AppendUint16(out, 8)
	return fmt.Appendf(out, "%08d", n%100000000)
}

// BenchmarkStandaloneThroughput: blocking invocations with their result
// per second from 1, 8 or 64 concurrent clients, of the echo action
// stateful (the default: one instance, which runs one activation at a
// time; the others queue for it) and stateless with limits.concurrency 8
// (up to eight instances), its code the precompiled zip or the Go source
// (see BenchmarkStandaloneWarmInvoke). Each case is warmed first (ten
// invocations per client, untimed), so the stateless action's instances
// are started; cold-starts counts any started while timed, instances
// those started since the action was created (none stops: the idle time is
// an hour and memory is ample). server-cpu-us/inv is the CPU time of the
// standalone process and everything below it (instances, actions) per
// invocation, client-cpu-us/inv that of the benchmark's process (the
// clients). ns/op is the inverse of inv/s. The data directory is on disk.
func BenchmarkStandaloneThroughput(b *testing.B) {
	marvel(b)
	code, src := echoCode(b)
	sa := startStandalone(b, filepath.Join(b.TempDir(), "data"), "--memory", "8192")
	stateless := map[string]any{
		"annotations": []map[string]any{{"key": "state", "value": false}},
		"limits":      map[string]any{"concurrency": 8},
	}
	for _, kind := range []string{"stateful", "stateless-8"} {
		for _, c := range codes(code, src) {
			name := "echo-" + kind + "-" + c.label
			more := map[string]any(nil)
			if kind != "stateful" {
				more = stateless
			}
			sa.putAction(b, name, c.exec, more)
			created := sa.gauge(b, "marvel_starts_cold_total")
			first := invokeEcho(sa.client, name) // a source action fails here if it cannot be built
			for _, clients := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("action=%s/code=%s/clients=%d", kind, c.label, clients), func(b *testing.B) {
					if first != nil {
						b.Skipf("the first invocation (cold start) failed: %v", first)
					}
					if _, err := invokeLoad(sa.client, name, clients, 10*clients); err != nil {
						b.Fatal(err)
					}
					cold := sa.gauge(b, "marvel_starts_cold_total")
					srvCPU, haveCPU := sa.cpuTime()
					cliCPU := selfCPUTime()
					b.ResetTimer()
					start := time.Now()
					lat, err := invokeLoad(sa.client, name, clients, b.N)
					elapsed := time.Since(start)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(b.N)/elapsed.Seconds(), "inv/s")
					reportMicros(b, "", lat)
					if now, ok := sa.cpuTime(); ok && haveCPU {
						b.ReportMetric(float64((now-srvCPU).Microseconds())/float64(b.N), "server-cpu-us/inv")
					}
					b.ReportMetric(float64((selfCPUTime()-cliCPU).Microseconds())/float64(b.N), "client-cpu-us/inv")
					now := sa.gauge(b, "marvel_starts_cold_total")
					b.ReportMetric(now-cold, "cold-starts")
					b.ReportMetric(now-created, "instances")
				})
			}
		}
	}
}

// invokeLoad runs n blocking invocations of action from clients
// goroutines, each invoking as soon as its previous one answered, and
// returns their latencies.
func invokeLoad(c *owclient.Client, action string, clients, n int) ([]time.Duration, error) {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		all   = make([]time.Duration, 0, n)
		first error
	)
	for range clients {
		wg.Go(func() {
			var lat []time.Duration
			var err error
			for next.Add(1) <= int64(n) {
				t := time.Now()
				if err = invokeEcho(c, action); err != nil {
					break
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			if err != nil && first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	return all, first
}
