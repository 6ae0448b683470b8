package benchmarks

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/marvel-serverless/marvel/runtime/proxy"
)

// echoAction builds actions/echo once per benchmark binary: a precompiled
// ActionLoop executable, zipped with exec at the root and base64-encoded as
// /init expects it.
var echoAction = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "marvel-bench-echo-")
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "exec")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", exe, "./actions/echo")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build echo: %v\n%s", err, out)
	}
	return exe, nil
})

func echoZip(b *testing.B) (exe, code string) {
	exe, err := echoAction()
	if err != nil {
		b.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "exec", Method: zip.Deflate})
	if err != nil {
		b.Fatal(err)
	}
	w.Write(bin)
	zw.Close()
	return exe, base64.StdEncoding.EncodeToString(buf.Bytes())
}

// startProxy serves a proxy.Server over loopback HTTP.
func startProxy(b *testing.B, opts proxy.Options) (string, *proxy.Server) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { devnull.Close() })
	opts.WorkDir = b.TempDir()
	opts.Stdout, opts.Stderr = devnull, devnull
	srv, err := proxy.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	return "http://" + ln.Addr().String(), srv
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

func post(b *testing.B, url string, body []byte) []byte {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("POST %s: %d %s (%v)", url, resp.StatusCode, out, err)
	}
	return out
}

func initBody(b *testing.B, code string) []byte {
	body, err := json.Marshal(map[string]any{"value": map[string]any{
		"name": "echo", "main": "main", "binary": true, "code": code,
		"env": map[string]string{"__OW_NAMESPACE": "guest", "__OW_ACTION_NAME": "/guest/echo"},
	}})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

const runBody = `{"value":{"name":"Marvel"},"namespace":"guest","action_name":"/guest/echo","action_version":"0.0.1","activation_id":"4f6c2b9e0d1a4c3b8e7f6a5d4c3b2a19","transaction_id":"bench","deadline":"99999999999999"}`

// BenchmarkRuntimeWarmRun: warm /run of the echo action through the
// runtime (HTTP on loopback, the ActionLoop process kept between runs),
// against the stateless model of OpenWhisk's native runtime as baseline: a
// new process per activation (exec, one request line, one answer).
func BenchmarkRuntimeWarmRun(b *testing.B) {
	exe, code := echoZip(b)
	b.Run("runtime=marvel", func(b *testing.B) {
		opts := proxy.DefaultOptions()
		opts.Data = b.TempDir()
		url, _ := startProxy(b, opts)
		post(b, url+"/init", initBody(b, code))
		for range 100 { // warm the connection and the process
			post(b, url+"/run", []byte(runBody))
		}
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for b.Loop() {
			t := time.Now()
			post(b, url+"/run", []byte(runBody))
			lat = append(lat, time.Since(t))
		}
		percentiles(b, lat)
	})
	b.Run("runtime=process-per-activation", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t := time.Now()
			execOnce(b, exe, []byte(runBody))
			lat = append(lat, time.Since(t))
		}
		percentiles(b, lat)
	})
}

// execOnce runs the action for one activation in a new process.
func execOnce(b *testing.B, exe string, req []byte) {
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Stdin = bytes.NewReader(append(req, '\n'))
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Env = []string{}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pw.Close()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	pr.Close()
	if err != nil || !bytes.Contains(line, []byte("Marvel")) {
		b.Fatalf("answer %q: %v", line, err)
	}
	cmd.Wait()
}

// BenchmarkRuntimeInit: a cold /init of the precompiled echo action (a
// fresh runtime, the zip decoded, unpacked and started, the ack awaited,
// the region created or opened; its first /run follows, untimed), without
// and with the action cache (a cold start of code this node has run
// before); against the bare cost of starting the same executable and
// waiting for its ack as baseline.
func BenchmarkRuntimeInit(b *testing.B) {
	exe, code := echoZip(b)
	body := initBody(b, code)
	for _, cached := range []bool{false, true} {
		name := "runtime=marvel"
		if cached {
			name = "runtime=marvel-action-cache"
		}
		b.Run(name, func(b *testing.B) { benchInit(b, body, cached) })
	}
	b.Run("runtime=bare-exec", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t := time.Now()
			startAndAck(b, exe)
			lat = append(lat, time.Since(t))
		}
		percentiles(b, lat)
	})
}

// benchInit measures /init on fresh runtimes sharing one data directory
// (and, if cached, one action cache that the first init fills).
func benchInit(b *testing.B, body []byte, cached bool) {
	data, cache := b.TempDir(), b.TempDir()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		{
			opts := proxy.DefaultOptions()
			opts.Data = data
			if cached {
				opts.ActionCache = cache
			}
			b.StopTimer()
			url, srv := startProxy(b, opts)
			b.StartTimer()
			t := time.Now()
			post(b, url+"/init", body)
			lat = append(lat, time.Since(t))
			post(b, url+"/run", []byte(runBody))
			b.StopTimer()
			srv.Close()
			b.StartTimer()
		}
	}
	percentiles(b, lat)
}

func startAndAck(b *testing.B, exe string) {
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	in, inw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), exe)
	cmd.Stdin = in
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Env = []string{"__OW_WAIT_FOR_ACK=true"}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pw.Close()
	in.Close()
	if _, err := bufio.NewReader(pr).ReadBytes('\n'); err != nil {
		b.Fatal(err)
	}
	inw.Close()
	pr.Close()
	cmd.Wait()
}
