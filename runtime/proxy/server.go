// Package proxy is the Marvel action runtime's HTTP side: an OpenWhisk
// action proxy (POST /init, POST /run) that runs the action as an ActionLoop
// process and hands it the persistent-memory region of its namespace and
// name.
//
// It keeps the wire contract of the OpenWhisk Go proxy (status codes, error
// bodies, the {"ok":true} reply, log sentinels after every run) and fixes
// what that proxy gets wrong: concurrent /run calls are answered in turn,
// each with its own result; null and scalar results are refused; error bodies
// are always valid JSON; the listen address is configurable; a runtime with a
// built-in function may be initialised without code; and an action process
// that crashes or overruns its deadline is replaced at the next activation,
// with its state intact in persistent memory.
//
// With Options.Token set (as the standalone invoker does), every request
// must carry the token in "Authorization: Bearer <token>" and any other is
// refused with 403, so that a process sharing the runtime's network, such
// as another namespace's action, cannot drive it (token.go).
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/marvel-serverless/marvel/runtime/actionloop"
)

// Sentinel is written as the last line on stdout and stderr after every run.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// Server is an action proxy for one action.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler // mux, behind requireToken when Options.Token is set

	// initMu serializes /init; initialized is set once an init succeeded.
	initMu      sync.Mutex
	initialized atomic.Bool
	initing     atomic.Bool // an /init is preparing or starting the action

	// runSem admits one activation at a time (a channel so that waiting
	// respects the request's deadline). It guards the fields below and the
	// sentinels, so one activation's log lines and sentinels never
	// interleave with another's.
	runSem chan struct{}
	spec   actionloop.Spec     // how to (re)start the action process
	proc   *actionloop.Process // nil until init, or after Close
	region *boundRegion        // nil when the action has no state

	cache *actionCache // nil when Options.ActionCache is empty

	// live is proc, readable without runSem, so that Close can kill an
	// action in the middle of an activation.
	live atomic.Pointer[actionloop.Process]
	// regionName is region's name, readable without runSem.
	regionName atomic.Pointer[string]

	// stop is canceled by Close: an /init in progress (a build) ends.
	stop       context.Context
	cancelStop context.CancelFunc

	stats struct {
		runs, errors, restarts, refused atomic.Uint64
	}
	closed atomic.Bool
}

// New returns a Server. It starts nothing until /init.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	// The token is the runtime's alone: neither the action nor the build
	// inherits it, whatever the caller put in their environments.
	opts.Env = withoutToken(opts.Env)
	opts.Build.Env = withoutToken(opts.Build.Env)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("proxy: work directory: %w", err)
	}
	if opts.Isolate { // actions run as other users: let them reach their code
		if err := os.Chmod(opts.WorkDir, 0o711); err != nil {
			return nil, fmt.Errorf("proxy: work directory: %w", err)
		}
	}
	s := &Server{opts: opts, log: log, mux: http.NewServeMux(), runSem: make(chan struct{}, 1)}
	s.stop, s.cancelStop = context.WithCancel(context.Background())
	if opts.ActionCache != "" {
		s.cache = &actionCache{dir: opts.ActionCache}
	}
	s.mux.HandleFunc("/init", s.post(s.handleInit))
	s.mux.HandleFunc("/run", s.post(s.handleRun))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s; an action proxy serves POST /init and POST /run", r.URL.Path))
	})
	s.handler = s.mux
	if opts.Token != "" {
		s.handler = s.requireToken(s.mux)
	}
	return s, nil
}

// Handler returns the HTTP handler. With Options.Token set it refuses
// every request that does not carry the token (see token.go).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) post(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s is not supported; use POST", r.Method, r.URL.Path))
			return
		}
		h(w, r)
	}
}

// Stats are the proxy's counters.
type Stats struct {
	Initialized bool   `json:"initialized"`
	Region      string `json:"region,omitempty"`
	Pid         int    `json:"pid,omitempty"` // the action process (0 if none)
	Runs        uint64 `json:"runs"`
	Errors      uint64 `json:"errors"`
	Restarts    uint64 `json:"restarts"`
	Refused     uint64 `json:"refused"` // requests without the runtime token
}

// Stats returns the proxy's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Initialized: s.initialized.Load(),
		Runs:        s.stats.runs.Load(),
		Errors:      s.stats.errors.Load(),
		Restarts:    s.stats.restarts.Load(),
		Refused:     s.stats.refused.Load(),
	}
	if p := s.live.Load(); p != nil {
		st.Pid = p.Pid()
	}
	if name := s.regionName.Load(); name != nil {
		st.Region = *name
	}
	return st
}

// setProcLocked installs p as the action process. runSem is held.
func (s *Server) setProcLocked(p *actionloop.Process) {
	s.proc = p
	s.live.Store(p)
}

// Close stops the action process, ending an activation in progress (its
// caller gets an error), and releases the region. Activations arriving
// later are refused with 503 (the platform reschedules them).
func (s *Server) Close() error {
	s.closed.Store(true)
	s.cancelStop()
	if p := s.live.Load(); p != nil {
		p.Kill()
	}
	s.initMu.Lock()
	defer s.initMu.Unlock()
	s.runSem <- struct{}{}
	defer func() { <-s.runSem }()
	if s.proc != nil {
		s.proc.Kill()
		s.proc = nil
		s.live.Store(nil)
	}
	if s.region != nil && s.region.file != nil {
		err := s.region.file.Close()
		s.region = nil
		s.regionName.Store(nil)
		return err
	}
	s.region = nil
	return nil
}

// writeJSON writes body (already JSON) with status.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	writeJSON(w, status, append(b, '\n'))
}

// readBody reads at most limit bytes of r's body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the request body exceeds %d bytes", limit)
	}
	return b, nil
}

// sentinels ends an activation's logs on both streams.
func (s *Server) sentinels() {
	fmt.Fprintln(s.opts.Stdout, Sentinel)
	fmt.Fprintln(s.opts.Stderr, Sentinel)
}

var errClosed = errors.New("the runtime is shutting down")
