// Package standalone assembles Marvel's single-node stack in one process:
// the invoker, the OpenWhisk API in front of it, and the HDFS bridge over
// the same data directory. `marvel standalone` runs it; `marvel demo` and
// `marvel bench` start one of their own.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/marvel-serverless/marvel/hdfsbridge"
	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/api"
	"github.com/marvel-serverless/marvel/invoker/client"
)

// Config configures a Stack.
type Config struct {
	// Invoker is the invoker's configuration; its WorkDir, Env, Registry
	// and, when empty, ActionCache are set by Start.
	Invoker invoker.Config
	// APIAddr is the OpenWhisk API's address (port 0: a free one).
	APIAddr string
	// APIHost is given to actions as __OW_API_HOST; empty: http://APIAddr.
	APIHost string
	// NameNodeAddr, DataNodeAddr and WebHDFSAddr are the HDFS bridge's;
	// NameNodeAddr "-" runs no bridge, WebHDFSAddr "-" no WebHDFS.
	NameNodeAddr, DataNodeAddr, WebHDFSAddr string
	// Keys are the API's credentials (nil: the guest key alone).
	Keys *api.Keys
	// Getenv gives the instances' environment (PATH, HOME, Go settings);
	// nil: os.Getenv.
	Getenv func(string) string
	// Build is reported by GET /api/v1.
	Build  string
	Logger *slog.Logger
}

// Stack is a running single-node stack.
type Stack struct {
	cfg     Config
	v       *invoker.Invoker
	bridge  *hdfsbridge.Bridge
	hs      *http.Server
	ln      net.Listener
	apiHost string
	work    string
	errc    chan error
}

// Start starts the stack; Close stops it.
func Start(cfg Config) (_ *Stack, err error) {
	ic := cfg.Invoker
	if ic.Data == "" {
		return nil, errors.New("standalone: a data directory is required")
	}
	if ic.Data, err = filepath.Abs(ic.Data); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ic.Data, 0o755); err != nil {
		return nil, fmt.Errorf("standalone: data directory: %w", err)
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stack{cfg: cfg, errc: make(chan error, 2)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if ic.ActionCache == "" {
		ic.ActionCache = filepath.Join(ic.Data, ".action-cache")
	}
	// Isolated actions run as other users: they may traverse the cache and
	// work directories (to reach their executable) but not list or write
	// them.
	if err := mkdirMode(ic.ActionCache, 0o711); err != nil {
		return nil, fmt.Errorf("standalone: action cache: %w", err)
	}
	if s.work, err = os.MkdirTemp("", "marvel-standalone-"); err == nil {
		err = os.Chmod(s.work, 0o711)
	}
	if err != nil {
		return nil, fmt.Errorf("standalone: work directory: %w", err)
	}
	ic.WorkDir = s.work
	if s.ln, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		return nil, fmt.Errorf("standalone: listen on %s: %w (choose another API address)", cfg.APIAddr, err)
	}
	s.apiHost = cfg.APIHost
	if s.apiHost == "" {
		s.apiHost = "http://" + s.ln.Addr().String()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ic.Env = ChildEnv(cfg.Getenv, s.apiHost)
	ic.Registry, ic.Logger = reg, cfg.Logger
	if s.v, err = invoker.New(ic); err != nil {
		return nil, fmt.Errorf("standalone: %w", err)
	}
	if cfg.NameNodeAddr != "-" {
		s.bridge, err = hdfsbridge.Start(hdfsbridge.Config{Data: ic.Data, NameNodeAddr: cfg.NameNodeAddr,
			DataNodeAddr: cfg.DataNodeAddr, WebHDFSAddr: cfg.WebHDFSAddr, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("standalone: HDFS bridge: %w (choose other HDFS addresses, or none)", err)
		}
	}
	srv := api.New(api.Options{Invoker: s.v, Keys: cfg.Keys, Gatherer: reg, Build: cfg.Build, Logger: cfg.Logger})
	// ReadTimeout bounds the whole request, so a client trickling a body
	// within the size bound cannot hold a connection forever; it does not
	// bound the reply (a blocking invoke waits as long as its action).
	s.hs = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 5 * time.Minute}
	go func() {
		if err := s.hs.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("standalone: API: %w", err)
		}
	}()
	if b := s.bridge; b != nil {
		go func() { // b, not s.bridge: Close clears the field
			if err, ok := <-b.Err(); ok && err != nil {
				s.errc <- fmt.Errorf("standalone: HDFS bridge: %w", err)
			}
		}()
	}
	return s, nil
}

// APIHost is the API's URL, e.g. http://127.0.0.1:3233.
func (s *Stack) APIHost() string { return s.apiHost }

// Addr is the API's listening address.
func (s *Stack) Addr() net.Addr { return s.ln.Addr() }

// Data is the data directory.
func (s *Stack) Data() string { return s.cfg.Invoker.Data }

// FilesDir is the files directory of namespace ns (HDFS /ns).
func (s *Stack) FilesDir(ns string) string { return filepath.Join(s.Data(), "fs", ns) }

// Invoker is the stack's invoker.
func (s *Stack) Invoker() *invoker.Invoker { return s.v }

// Bridge is the HDFS bridge, nil if none.
func (s *Stack) Bridge() *hdfsbridge.Bridge { return s.bridge }

// Err reports a server that stopped serving.
func (s *Stack) Err() <-chan error { return s.errc }

// Client returns a client of the API with credentials auth (uuid:key;
// empty: the guest key).
func (s *Stack) Client(auth string) (*client.Client, error) {
	if auth == "" {
		auth = api.GuestKey
	}
	return client.New(client.Config{APIHost: s.apiHost, Auth: auth})
}

// Close stops the API (activations in flight get 5 s), every instance,
// and the bridge.
func (s *Stack) Close() error {
	var errs []error
	if s.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.hs.Shutdown(ctx)
		cancel()
	} else if s.ln != nil {
		s.ln.Close()
	}
	if s.v != nil {
		if err := s.v.Close(); err != nil && !errors.Is(err, invoker.ErrClosed) {
			errs = append(errs, err)
		}
		s.v = nil
	}
	if s.bridge != nil {
		errs = append(errs, s.bridge.Close())
		s.bridge = nil
	}
	if s.work != "" {
		os.RemoveAll(s.work)
		s.work = ""
	}
	return errors.Join(errs...)
}

// ChildEnv is the environment of runtime instances: the invoker's PATH,
// HOME, Go build settings, and the API host for actions that call back.
func ChildEnv(getenv func(string) string, apiHost string) []string {
	env := []string{"__OW_API_HOST=" + apiHost}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GOFLAGS"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if getenv("PATH") == "" {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return env
}

// mkdirMode creates dir if needed and sets its mode.
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}
