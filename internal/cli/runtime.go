package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/runtime/proxy"
)

// runtimeCmd holds the flags of `marvel runtime`.
type runtimeCmd struct {
	a           *app
	listen      string
	data        string
	mode        modeValue
	regionSize  sizeValue
	regionMax   sizeValue
	cacheBytes  sizeValue
	work        string
	builtin     string
	actionCache string
	sdk         string
	goTool      string
	waitAck     bool
	isolate     bool
	noRegion    bool
	tokenFile   string
	initTimeout time.Duration
}

func (a *app) runtimeCommand() *cobra.Command {
	d := proxy.DefaultOptions()
	r := &runtimeCmd{a: a, regionSize: sizeValue{d.RegionSize}, cacheBytes: sizeValue{d.CacheBytes}}
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Run the OpenWhisk action proxy (POST /init, POST /run) with persistent-memory state",
		Long: `runtime is the action proxy that runs inside an OpenWhisk action container:
POST /init receives the action (a zip with an executable exec, a single
executable or #! script, or Go source, compiled here), POST /run runs one
activation through the ActionLoop protocol. Each action gets the
persistent-memory region of its namespace and name under --data, kept open
across warm activations and reopened after a cold start.

It prints "listening on ADDR" on stderr once it accepts connections and stops
cleanly on SIGINT or SIGTERM.`,
		Args: a.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return r.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&r.listen, "listen", "0.0.0.0:8080", "address to serve on (port 0 picks a free one)")
	f.StringVar(&r.data, "data", "/var/lib/marvel", "persistent-memory namespace directory for regions and files (env MARVEL_DATA; empty: no state)")
	f.Var(&r.mode, "pmem", "how to map regions: auto, devdax, fsdax or emulated (env MARVEL_PMEM)")
	f.Var(&r.regionSize, "region-size", "initial size of a new region")
	f.Var(&r.regionMax, "region-max", "largest size a region may grow to (0: unbounded)")
	f.Var(&r.cacheBytes, "cache-bytes", "size of the state cache in the action process")
	f.StringVar(&r.work, "work", "", "directory to unpack and build actions in (default: a new temporary directory, removed at exit)")
	f.StringVar(&r.builtin, "builtin", "", "executable (or directory holding exec) to run when /init has no code (env MARVEL_BUILTIN)")
	f.StringVar(&r.actionCache, "action-cache", "", "directory caching executables by code digest across cold starts; must not be writable by actions (env MARVEL_ACTION_CACHE)")
	f.StringVar(&r.sdk, "sdk", "", "Marvel module source, to compile Go source actions (env MARVEL_SDK_DIR)")
	f.StringVar(&r.goTool, "go", "", "go command for Go source actions (default: go on PATH)")
	f.BoolVar(&r.waitAck, "wait-ack", true, "wait for the action's {\"ok\":true} on fd 3 at start (env OW_WAIT_FOR_ACK)")
	f.BoolVar(&r.noRegion, "no-region", false, "give actions their namespace's files but no state region, so several runtimes of one action can run at once (stateless actions)")
	f.BoolVar(&r.isolate, "isolate", false, "run each action as a user of its own namespace, so it reaches no other namespace's state (needs root; env MARVEL_ISOLATE)")
	f.StringVar(&r.tokenFile, "token-file", "", "file holding a secret every request must carry as \"Authorization: Bearer TOKEN\" (others get 403; env "+proxy.TokenEnv+" holds the token itself; default: no token, anyone who reaches the port is served)")
	f.DurationVar(&r.initTimeout, "init-timeout", d.InitTimeout, "longest /init, build included")
	return cmd
}

// runtimeEnv lists the variables that set runtime flags not given.
var runtimeEnv = []struct{ flag, env string }{
	{"data", "MARVEL_DATA"},
	{"builtin", "MARVEL_BUILTIN"},
	{"sdk", "MARVEL_SDK_DIR"},
	{"action-cache", "MARVEL_ACTION_CACHE"},
	{"region-size", "MARVEL_REGION_SIZE"},
	{"region-max", "MARVEL_REGION_MAX"},
	{"cache-bytes", "MARVEL_CACHE_BYTES"},
	{"init-timeout", "MARVEL_INIT_TIMEOUT"},
	{"isolate", "MARVEL_ISOLATE"},
	{"wait-ack", "OW_WAIT_FOR_ACK"},
}

// passEnv are the runtime's variables the action and the Go build inherit.
var passEnv = []string{"PATH", "HOME", "TMPDIR", "LANG", "__OW_API_HOST", "GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GONOSUMDB", "GOPRIVATE"}

func (r *runtimeCmd) run(ctx context.Context) error {
	a := r.a
	lg := a.logger()
	opts := proxy.DefaultOptions()
	opts.Data, opts.Mode = r.data, r.mode.mode
	opts.RegionSize, opts.RegionMax, opts.CacheBytes = r.regionSize.n, r.regionMax.n, r.cacheBytes.n
	opts.ActionCache = r.actionCache
	opts.Isolate = r.isolate
	opts.NoRegion = r.noRegion
	opts.Builtin, opts.WaitAck, opts.InitTimeout = r.builtin, r.waitAck, r.initTimeout
	opts.Logger = lg
	tok, err := r.token()
	if err != nil {
		return err
	}
	opts.Token = tok
	opts.Build.Go, opts.Build.SDKDir = r.goTool, r.sdk
	for _, k := range passEnv {
		if v := a.env.Getenv(k); v != "" {
			opts.Env = append(opts.Env, k+"="+v)
			opts.Build.Env = append(opts.Build.Env, k+"="+v)
		}
	}
	if a.env.Getenv("PATH") == "" {
		opts.Env = append(opts.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	opts.WorkDir = r.work
	if opts.WorkDir == "" {
		dir, err := os.MkdirTemp("", "marvel-runtime-")
		if err != nil {
			return fmt.Errorf("runtime: work directory: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.WorkDir = dir
	}
	if opts.Data != "" {
		abs, err := filepath.Abs(opts.Data)
		if err != nil {
			return fmt.Errorf("runtime: --data %s: %w", opts.Data, err)
		}
		opts.Data = abs
	}
	var stopCopy func()
	opts.Stdout, opts.Stderr, stopCopy = a.outputFiles()
	defer stopCopy()

	srv, err := proxy.New(opts)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", r.listen)
	if err != nil {
		return fmt.Errorf("runtime: listen on %s: %w (choose another address with --listen)", r.listen, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(a.env.Stderr, "listening on %s\n", ln.Addr())
	lg.Info("runtime listening", "addr", ln.Addr().String(), "data", opts.Data, "mode", opts.Mode.String())
	select {
	case err := <-errc:
		return fmt.Errorf("runtime: serve: %w", err)
	case <-ctx.Done():
	}
	// Stop the action first: an activation in progress ends (its caller
	// gets an error) instead of holding the shutdown until its deadline.
	closeErr := srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("runtime: shutdown: %w", err)
	}
	if closeErr != nil {
		return fmt.Errorf("runtime: release the action's region: %w", closeErr)
	}
	return nil
}

// token returns the runtime token: the contents of --token-file (without
// surrounding white space), else $MARVEL_RUNTIME_TOKEN, else none.
func (r *runtimeCmd) token() (string, error) {
	if r.tokenFile == "" {
		return r.a.env.Getenv(proxy.TokenEnv), nil
	}
	b, err := os.ReadFile(r.tokenFile)
	if err != nil {
		return "", fmt.Errorf("runtime: --token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("runtime: --token-file %s is empty; give it the token, or drop the flag to serve without one", r.tokenFile)
	}
	return tok, nil
}

// outputFiles returns files for the action's stdout and stderr: the
// command's own when they are files, else pipes copied into them (for tests
// that drive the command in-process).
func (a *app) outputFiles() (stdout, stderr *os.File, stop func()) {
	var stops []func()
	pick := func(w io.Writer) *os.File {
		if f, ok := w.(*os.File); ok {
			return f
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil
		}
		done := make(chan struct{})
		go func() { io.Copy(w, pr); close(done) }()
		stops = append(stops, func() { pw.Close(); <-done; pr.Close() })
		return pw
	}
	stdout, stderr = pick(a.env.Stdout), pick(a.env.Stderr)
	return stdout, stderr, func() {
		for _, s := range stops {
			s()
		}
	}
}
