package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Accept retry backoff after errors such as EMFILE.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Server serves one Hadoop RPC protocol over any number of listeners and
// connections. Create it with New; it is safe for concurrent use.
//
// Replies to calls: a Method.Call that returns (resp, nil) is answered with
// status SUCCESS and resp; one that returns an error is answered with status
// ERROR, errorDetail ERROR_APPLICATION, exceptionClassName from the first
// JavaClasser in the error's chain (else java.io.IOException) and errorMsg
// err.Error(). The connection stays open either way.
type Server struct {
	opts    Options
	methods map[string]*Method
	lg      *slog.Logger
	// ctx is the parent of every connection's context; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	nextID atomic.Uint64
	// wg counts connection goroutines (and ServeConn calls); Add only under
	// mu while !closed, so Close's Wait sees every one.
	wg sync.WaitGroup

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[net.Listener]struct{}
		conns     map[*Conn]struct{}
	}
}

// New validates opts, fills in defaults and returns a Server that serves
// nothing until Serve or ServeConn.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	s := &Server{
		opts:    opts,
		methods: make(map[string]*Method, len(opts.Methods)),
		lg:      opts.Logger,
	}
	for i := range opts.Methods {
		s.methods[opts.Methods[i].Name] = &opts.Methods[i]
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*Conn]struct{})
	return s, nil
}

// Serve accepts connections on ln and serves each on its own goroutine until
// Close, then returns ErrServerClosed. Serve closes ln. Transient accept
// errors (such as running out of file descriptors) are logged and retried
// with backoff; any other accept error is returned.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()

	s.lg.Info("serving", "addr", ln.Addr().String(), "protocol", s.opts.Protocol)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("rpc: accept on %s: %w", ln.Addr(), err)
			}
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			s.lg.Warn("accept failed", "addr", ln.Addr().String(), "err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		c := s.newConn(nc)
		if !s.track(c) {
			_ = nc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.untrack(c)
			c.serve()
		}()
	}
}

// ServeConn serves one connection on the calling goroutine and returns when
// it ends; it closes nc. It is for tests and for callers that accept
// connections themselves. On a closed Server it just closes nc.
func (s *Server) ServeConn(nc net.Conn) {
	c := s.newConn(nc)
	if !s.track(c) {
		_ = nc.Close()
		return
	}
	defer s.untrack(c)
	c.serve()
}

// Close stops the Server: it closes every listener and connection, cancels
// the context of calls in progress and waits for every connection goroutine
// to finish (a Method.Call that ignores its context delays Close). Calling
// Close again does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	listeners := make([]net.Listener, 0, len(s.mu.listeners))
	for ln := range s.mu.listeners {
		listeners = append(listeners, ln)
	}
	conns := make([]*Conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var errs []error
	for _, ln := range listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("rpc: closing listener %s: %w", ln.Addr(), err))
		}
	}
	for _, c := range conns {
		_ = c.nc.Close()
	}
	// Cancel calls only once their connections are closed, so no reply is
	// sent after Close began.
	s.cancel()
	s.wg.Wait()
	s.lg.Info("closed", "connections", len(conns))
	return errors.Join(errs...)
}

func (s *Server) closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// track registers c, or reports false if the Server is closed.
func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}
