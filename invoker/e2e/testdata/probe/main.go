// Command probe is the end-to-end tests' action. Its parameter "op" picks
// what it does; every answer carries the process's "pid" and "uid":
//
//   - "" or "echo": answers {"args": its parameters};
//   - "sleep": sleeps "ms" milliseconds, then answers {"slept": ms};
//   - "log": writes each of "out" to stdout and each of "err" to stderr;
//   - "fail": answers {"error": "message"} (an application error);
//   - "crash": exits with status 3 without answering;
//   - "env": answers {"env": the __OW_ and MARVEL_ variables};
//   - "open": tries to read the file "file" and list the directory "dir",
//     answering each error text ("" when it worked);
//   - "post": POSTs "body" to "url", with "auth" as its Authorization
//     header when given, answering {"status", "reply"} or {"neterr"}.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/runtime/sdk"
)

func main() { sdk.Main(Main) }

// Main runs the operation args["op"].
func Main(args map[string]any) map[string]any {
	out := map[string]any{"pid": os.Getpid(), "uid": os.Getuid()}
	op, _ := args["op"].(string)
	switch op {
	case "", "echo":
		out["args"] = args
	case "sleep":
		ms, _ := args["ms"].(float64)
		time.Sleep(time.Duration(ms) * time.Millisecond)
		out["slept"] = ms
	case "log":
		for _, l := range strs(args["out"]) {
			fmt.Fprintln(os.Stdout, l)
		}
		for _, l := range strs(args["err"]) {
			fmt.Fprintln(os.Stderr, l)
		}
		out["logged"] = true
	case "fail":
		msg, _ := args["message"].(string)
		return map[string]any{"error": msg, "pid": os.Getpid()}
	case "crash":
		fmt.Fprintln(os.Stderr, "probe: crashing")
		os.Exit(3)
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(k, "__OW_") || strings.HasPrefix(k, "MARVEL_") {
				env[k] = v
			}
		}
		out["env"] = env
	case "open":
		out["file"] = errText(func() error {
			_, err := os.ReadFile(str(args["file"]))
			return err
		})
		out["dir"] = errText(func() error {
			_, err := os.ReadDir(str(args["dir"]))
			return err
		})
	case "post":
		req, err := http.NewRequest(http.MethodPost, str(args["url"]), strings.NewReader(str(args["body"])))
		if err != nil {
			return map[string]any{"error": "probe: " + err.Error()}
		}
		req.Header.Set("Content-Type", "application/json")
		if a := str(args["auth"]); a != "" {
			req.Header.Set("Authorization", a)
		}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := c.Do(req)
		if err != nil {
			out["neterr"] = err.Error()
			break
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		out["status"], out["reply"] = resp.StatusCode, string(b)
	default:
		return map[string]any{"error": "probe: unknown op " + op}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func errText(f func() error) string {
	if err := f(); err != nil {
		return err.Error()
	}
	return ""
}
