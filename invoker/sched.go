package invoker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/marvel-serverless/marvel/invoker/instance"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/pmem"
)

// slot is what the invoker knows of one action (namespace/name): its
// instances and the activations waiting for one.
type slot struct {
	key     string
	insts   []*inst
	waiters []*waiter // FIFO: handed the next instance that frees
}

// waiter is an activation waiting for an instance. It is handed a free
// instance (busy for it) or nil, meaning "things changed: look again".
// Guarded by Invoker.mu.
type waiter struct {
	ch   chan *inst // buffered 1; written once
	done bool       // handed something, or gave up
}

func newWaiter() *waiter { return &waiter{ch: make(chan *inst, 1)} }

// handLocked gives in (nil: a wake-up) to w if w still waits.
func (w *waiter) handLocked(in *inst) bool {
	if w.done {
		return false
	}
	w.done = true
	w.ch <- in
	return true
}

// inst is one runtime instance of an action.
type inst struct {
	name     string
	key      string
	version  string // the action version it was initialized with
	digest   string // and its exec, so an update without a version bump is noticed too
	memMB    int
	proc     *instance.Instance // nil while starting
	lease    *pmem.Lease        // the action's region, nil for stateless actions
	gone     chan struct{}      // closed once removed from the slot
	busy     bool
	starting bool
	retiring bool // stop when idle; take no more activations
	lastUsed time.Time
	runs     int
}

// acquired is an instance given to one activation.
type acquired struct {
	in       *inst
	cold     bool
	initTime time.Duration
	initLogs []string
	initErr  *whisk.Response // the init failed: the activation's response
}

// errNoInstance is an activation that waited MaxWait for an instance.
var errNoInstance = errors.New("no instance became available")

// acquire finds or starts an instance for action a and marks it busy.
func (v *Invoker) acquire(ctx context.Context, ns string, a *whisk.Action, digest string, lim Limits, env map[string]string) (*acquired, error) {
	key := ns + "/" + a.Name
	maxInst := 1
	if !stateful(a) {
		maxInst = lim.Concurrency
	}
	for {
		v.mu.Lock()
		if v.closed {
			v.mu.Unlock()
			return nil, ErrClosed
		}
		s := v.actions[key]
		if s == nil {
			s = &slot{key: key}
			v.actions[key] = s
		}
		// A warm instance of this version: the state cache is there.
		var stale []*inst
		live := 0
		for _, in := range s.insts {
			if in.version != a.Version || in.digest != digest {
				if !in.retiring {
					in.retiring = true
					if !in.busy && !in.starting {
						stale = append(stale, in)
					}
				}
			}
			if in.retiring {
				continue
			}
			if in.proc != nil && exited(in.proc) {
				continue // its monitor is about to remove it
			}
			live++
			if !in.busy && !in.starting {
				in.busy = true
				v.mu.Unlock()
				v.m.warm.Inc()
				return &acquired{in: in}, nil
			}
		}
		if len(stale) > 0 {
			v.mu.Unlock()
			for _, in := range stale {
				in.proc.Close()
			}
			continue
		}
		// Room for another instance? A stateful action has one; its region
		// has one writer, so an old instance must be gone first.
		holders := len(s.insts)
		if stateful(a) {
			live = holders
		}
		if live < maxInst {
			if v.memUsed+lim.MemoryMB <= v.cfg.MemoryMB {
				v.nextInst++
				in := &inst{name: newInstanceName(key, v.nextInst), key: key, version: a.Version, digest: digest,
					memMB: lim.MemoryMB, gone: make(chan struct{}), busy: true, starting: true}
				s.insts = append(s.insts, in)
				v.memUsed += lim.MemoryMB
				v.mu.Unlock()
				return v.coldStart(ctx, ns, a, in, lim, env)
			}
			if victim := v.idleVictimLocked(key); victim != nil {
				victim.retiring = true
				v.mu.Unlock()
				v.lg.Info("stopping an idle instance to make room", "instance", victim.name, "for", key)
				victim.proc.Close()
				<-victim.gone
				continue
			}
		}
		// Wait for an instance of the action to free up; when short of
		// memory, also for memory.
		w := newWaiter()
		s.waiters = append(s.waiters, w)
		if live < maxInst {
			v.memWait = append(v.memWait, w)
		}
		v.mu.Unlock()
		select {
		case in := <-w.ch:
			if in != nil {
				v.m.warm.Inc()
				return &acquired{in: in}, nil
			}
		case <-ctx.Done():
			v.mu.Lock()
			gaveUp := !w.done
			w.done = true
			v.mu.Unlock()
			if !gaveUp { // handed something meanwhile: give it back
				if in := <-w.ch; in != nil {
					v.release(in)
				}
			}
			return nil, fmt.Errorf("%w for %s: %w", errNoInstance, key, ctx.Err())
		}
	}
}

// idleVictimLocked picks the least recently used idle instance of another
// action, to stop for memory.
func (v *Invoker) idleVictimLocked(except string) *inst {
	var victim *inst
	for key, s := range v.actions {
		if key == except {
			continue
		}
		for _, in := range s.insts {
			if in.busy || in.starting || in.retiring {
				continue
			}
			if victim == nil || in.lastUsed.Before(victim.lastUsed) {
				victim = in
			}
		}
	}
	return victim
}

// wakeAllLocked wakes every waiter of slot s (nil: none), and every
// memory waiter if memory was freed, to look again.
func (v *Invoker) wakeAllLocked(s *slot, freed bool) {
	if s != nil {
		for _, w := range s.waiters {
			w.handLocked(nil)
		}
		s.waiters = nil
	}
	if freed {
		for _, w := range v.memWait {
			w.handLocked(nil)
		}
		v.memWait = nil
	}
}

// release gives an instance back after an activation: straight to the
// first activation waiting for it, or idle.
func (v *Invoker) release(in *inst) {
	v.mu.Lock()
	in.lastUsed = time.Now()
	in.runs++
	retiring := in.retiring
	s := v.actions[in.key]
	if !retiring && !in.starting && s != nil {
		for len(s.waiters) > 0 {
			w := s.waiters[0]
			s.waiters = s.waiters[1:]
			if w.handLocked(in) {
				v.mu.Unlock()
				return
			}
		}
	}
	in.busy = false
	if retiring {
		v.wakeAllLocked(s, false) // one of them starts the replacement
	}
	// An idle instance can be stopped for an activation short of memory.
	v.wakeAllLocked(nil, len(v.memWait) > 0)
	v.mu.Unlock()
	if retiring && in.proc != nil {
		go in.proc.Close()
	}
}

// coldStart starts instance in of action a, grants its region and sends
// /init. On failure the instance is removed; an init that the action
// refused is an activation response, not an error.
func (v *Invoker) coldStart(ctx context.Context, ns string, a *whisk.Action, in *inst, lim Limits, env map[string]string) (*acquired, error) {
	t0 := time.Now()
	v.m.cold.Inc()
	fail := func(err error) (*acquired, error) {
		v.remove(in)
		return nil, err
	}
	if stateful(a) {
		rn, err := regionName(ns, a.Name)
		if err != nil {
			return fail(err)
		}
		l, err := v.grant(ctx, rn, owner(ns, a.Name))
		if err != nil {
			return fail(fmt.Errorf("grant the state region of %s: %w", in.key, err))
		}
		v.mu.Lock() // housekeeping reads in.lease under the lock
		in.lease = l
		v.mu.Unlock()
	}
	proc, err := instance.Start(ctx, instance.Config{
		Binary:  v.cfg.Binary,
		Args:    v.runtimeArgs(a),
		WorkDir: filepath.Join(v.cfg.WorkDir, fmt.Sprintf("inst-%s", newID()[:12])),
		Env:     v.cfg.Env,
		Logger:  v.lg,
		Name:    in.name,
	})
	if err != nil {
		return fail(fmt.Errorf("start a runtime for %s: %w", in.key, err))
	}
	v.mu.Lock()
	in.proc = proc
	closing := v.closed
	v.mu.Unlock()
	v.wg.Add(1)
	go v.monitor(in)
	if closing { // Close did not see this process: stop it here
		proc.Close()
		return nil, ErrClosed
	}

	if a.Exec != nil && a.Exec.Code == nil { // read the code only now
		full, err := v.records.GetAction(ns, a.Name, true)
		if err != nil {
			proc.Close()
			return nil, fmt.Errorf("read the code of %s: %w", in.key, err)
		}
		if execDigest(&full) != in.digest {
			proc.Close()
			return nil, fmt.Errorf("action %s changed while it was starting (now version %s); invoke it again", in.key, full.Version)
		}
		a = &full
	}
	body, err := initBody(ns, a, env)
	if err != nil {
		proc.Close()
		return nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, initTimeout(lim))
	defer cancel()
	rep, err := proc.Init(ictx, body, instance.RunOptions{MaxLogBytes: int64(lim.LogsMB) << 20})
	acq := &acquired{in: in, cold: true, initTime: time.Since(t0), initLogs: logLines(rep.Logs)}
	v.m.initSeconds.Observe(acq.initTime.Seconds())
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		acq.initErr = developerError(fmt.Sprintf("The action exceeded its time limits of %d milliseconds during initialization.", initTimeout(lim).Milliseconds()))
	case err != nil && ctx.Err() != nil:
		proc.Close()
		return nil, ctx.Err()
	case err != nil:
		acq.initErr = developerError("The action did not initialize and exited unexpectedly.")
	case rep.Status != 200:
		acq.initErr = initFailure(rep.Body)
	}
	if acq.initErr != nil {
		// OpenWhisk destroys a container whose init failed.
		v.mu.Lock()
		in.retiring = true
		v.mu.Unlock()
		go proc.Close()
		return acq, nil
	}
	v.mu.Lock()
	in.starting = false
	v.mu.Unlock()
	return acq, nil
}

// initTimeout bounds /init: the action's time limit, but at least two
// minutes, as compiling Go source takes a while on a cold build cache.
func initTimeout(lim Limits) time.Duration {
	return max(time.Duration(lim.TimeoutMs)*time.Millisecond, 2*time.Minute)
}

// grant obtains the action's region, waiting while a previous holder's
// lease is live (it is on its way out).
func (v *Invoker) grant(ctx context.Context, name, owner string) (*pmem.Lease, error) {
	for {
		l, err := v.pool.Grant(pmem.GrantRequest{Owner: owner, Name: name, Size: v.cfg.RegionSize, Pinned: true, Handoff: true})
		if !errors.Is(err, pmem.ErrExist) && !errors.Is(err, pmem.ErrLocked) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (waiting for region %s)", ctx.Err(), name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// monitor waits for an instance's process to end, then removes it.
func (v *Invoker) monitor(in *inst) {
	defer v.wg.Done()
	<-in.proc.Done()
	if err := in.proc.Err(); err != nil {
		v.mu.Lock()
		expected := in.retiring || v.closed
		v.mu.Unlock()
		if !expected {
			v.m.crashes.Inc()
			v.lg.Warn("runtime instance exited", "instance", in.name, "err", err)
		}
	}
	in.proc.Close() // removes its work directory
	v.remove(in)
}

// remove forgets an instance whose process is gone (or never started):
// its memory and region lease are released and waiters woken.
func (v *Invoker) remove(in *inst) {
	v.mu.Lock()
	s := v.actions[in.key]
	found := false
	if s != nil {
		for i, x := range s.insts {
			if x == in {
				s.insts = append(s.insts[:i], s.insts[i+1:]...)
				found = true
				break
			}
		}
	}
	if !found {
		v.mu.Unlock()
		return
	}
	v.memUsed -= in.memMB
	l := in.lease
	in.lease = nil
	if s != nil && len(s.insts) == 0 && len(s.waiters) == 0 && v.actions[in.key] == s {
		delete(v.actions, in.key)
	}
	v.mu.Unlock()
	if l != nil {
		if err := l.Release(true); err != nil && !errors.Is(err, pmem.ErrClosed) {
			v.lg.Warn("releasing a region lease", "region", l.Name(), "err", err)
		}
	}
	close(in.gone)
	v.mu.Lock()
	// Wake everyone of the slot (one may start the replacement) and those
	// waiting for memory.
	v.wakeAllLocked(s, true)
	v.mu.Unlock()
}

// InstanceStats counts the live instances.
type InstanceStats struct {
	Idle, Busy, Starting int
	MemoryMB             int
}

// Instances returns a snapshot of the instances.
func (v *Invoker) Instances() InstanceStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	st := InstanceStats{MemoryMB: v.memUsed}
	for _, s := range v.actions {
		for _, in := range s.insts {
			switch {
			case in.starting:
				st.Starting++
			case in.busy:
				st.Busy++
			default:
				st.Idle++
			}
		}
	}
	return st
}

// exited reports whether an instance's process has ended.
func exited(p *instance.Instance) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}
