package invoker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/marvel-serverless/marvel/invoker/instance"
	"github.com/marvel-serverless/marvel/invoker/records"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/runtime/proxy"
)

// ErrClosed is returned once the invoker is closed.
var ErrClosed = errors.New("invoker: closed")

// RecordsDir is where, under the data directory, the invoker keeps its
// actions and activation records.
const RecordsDir = ".invoker"

// Invoker runs activations on warm runtime instances. Its methods are safe
// for concurrent use.
type Invoker struct {
	cfg     Config
	lg      *slog.Logger
	records *records.Store
	pool    *pmem.Pool
	m       *metrics

	mu       sync.Mutex
	actions  map[string]*slot     // by "ns/name": one per action identity
	jobs     map[string]*jobGrant // job regions by region name
	memUsed  int                  // MB of live (and starting) instances
	memWait  []*waiter            // activations waiting for memory
	closed   bool
	nextInst uint64

	wg   sync.WaitGroup // activations in flight and instance monitors
	stop chan struct{}  // closed by Close: background loops end
	bg   sync.WaitGroup // background loops
}

// New opens the invoker's records and PMEM pool under cfg.Data and starts
// its background work (idle reaping, lease renewal).
func New(cfg Config) (*Invoker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{cfg.Data, filepath.Join(cfg.Data, "fs"), cfg.WorkDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("invoker: %w", err)
		}
	}
	rec, err := records.Open(filepath.Join(cfg.Data, RecordsDir), records.Options{
		MaxActivations: cfg.MaxActivations, MaxBytes: cfg.MaxActivationBytes, Logger: lg.With("part", "records"),
	})
	if err != nil {
		return nil, fmt.Errorf("invoker: records: %w", err)
	}
	po := pmem.DefaultPoolOptions()
	po.Capacity = cfg.Capacity
	po.Lease = cfg.Lease
	po.Grace = cfg.Lease
	po.Region.Mode = cfg.Mode
	po.Logger = lg.With("part", "pool")
	pool, err := pmem.NewPool(cfg.Data, po)
	if err != nil {
		rec.Close()
		return nil, fmt.Errorf("invoker: PMEM pool over %s: %w", cfg.Data, err)
	}
	v := &Invoker{
		cfg: cfg, lg: lg, records: rec, pool: pool,
		actions: make(map[string]*slot),
		jobs:    make(map[string]*jobGrant),
		stop:    make(chan struct{}),
	}
	v.m = newMetrics(cfg.Registry, v)
	v.bg.Add(1)
	go v.housekeeping()
	lg.Info("invoker started", "data", cfg.Data, "mode", cfg.Mode.String(), "memory_mb", cfg.MemoryMB,
		"pmem_capacity", cfg.Capacity, "idle_timeout", cfg.IdleTimeout)
	return v, nil
}

// Records returns the invoker's store of actions and activations.
func (v *Invoker) Records() *records.Store { return v.records }

// Pool returns the invoker's PMEM capacity pool.
func (v *Invoker) Pool() *pmem.Pool { return v.pool }

// Close stops every instance (their regions stay, released with their
// data), waits for activations in flight to be recorded, and closes the
// records and the pool.
func (v *Invoker) Close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrClosed
	}
	v.closed = true
	var all []*instance.Instance
	for _, s := range v.actions {
		for _, in := range s.insts {
			if in.proc != nil { // a starting one stops itself on seeing closed
				all = append(all, in.proc)
			}
		}
		v.wakeAllLocked(s, false)
	}
	v.wakeAllLocked(nil, true)
	v.mu.Unlock()
	close(v.stop)
	v.bg.Wait()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() { defer wg.Done(); p.Close() }()
	}
	wg.Wait()
	v.wg.Wait() // monitors release leases and memory; activations record
	return errors.Join(v.records.Close(), v.pool.Close())
}

// housekeeping stops idle instances and renews the leases of live ones.
func (v *Invoker) housekeeping() {
	defer v.bg.Done()
	every := min(v.cfg.Lease/3, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		var idle []*inst
		var leases []*pmem.Lease
		v.mu.Lock()
		for _, s := range v.actions {
			for _, in := range s.insts {
				if in.lease != nil {
					leases = append(leases, in.lease)
				}
				if !in.busy && !in.starting && !in.retiring && now.Sub(in.lastUsed) >= v.cfg.IdleTimeout {
					in.retiring = true
					idle = append(idle, in)
				}
			}
		}
		v.mu.Unlock()
		for _, l := range leases {
			if err := l.Renew(); err != nil {
				v.lg.Warn("renewing a region lease", "region", l.Name(), "err", err)
			}
		}
		for _, in := range idle {
			v.lg.Info("stopping an idle instance", "instance", in.name, "idle", now.Sub(in.lastUsed).Round(time.Second))
			go in.proc.Close()
		}
	}
}

// newID returns 32 lowercase hex characters, an activation or transaction
// id.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("invoker: random id: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// NewTransactionID returns a fresh transaction id (the "code" of errors).
func NewTransactionID() string { return newID() }

// stateful reports whether the action holds state in a region: unless it is
// annotated "state": false.
func stateful(a *whisk.Action) bool {
	v := a.Annotations.Get("state")
	return v == nil || a.Annotations.Bool("state")
}

// regionName is the region of the action invoked from its own namespace.
func regionName(ns, name string) (string, error) {
	id, err := proxy.NewIdentity(ns, "/"+ns+"/"+name)
	if err != nil {
		return "", err
	}
	return id.RegionName(), nil
}

// runtimeArgs are the `marvel runtime` arguments of an instance of a.
func (v *Invoker) runtimeArgs(a *whisk.Action) []string {
	args := []string{"--data", v.cfg.Data, "--pmem", v.cfg.Mode.String(),
		"--region-max", strconv.FormatInt(v.cfg.RegionSize, 10),
		"--region-size", strconv.FormatInt(min(v.cfg.RegionSize, 4<<20), 10)}
	if !stateful(a) {
		args = append(args, "--no-region")
	}
	if v.cfg.ActionCache != "" {
		args = append(args, "--action-cache", v.cfg.ActionCache)
	}
	if v.cfg.SDKDir != "" {
		args = append(args, "--sdk", v.cfg.SDKDir)
	}
	if v.cfg.Isolate {
		args = append(args, "--isolate")
	}
	return append(args, v.cfg.RuntimeArgs...)
}

// DeleteState removes the state region of action ns/name, after stopping
// its instances. It is what deleting an action does to its state.
func (v *Invoker) DeleteState(ns, name string) error {
	v.retire(ns + "/" + name)
	rn, err := regionName(ns, name)
	if err != nil {
		return err
	}
	path, _ := pmem.RegionPath(v.cfg.Data, rn)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// Grant it (which waits for no one: the instances are gone) and delete.
	for i := 0; ; i++ {
		l, err := v.pool.Grant(pmem.GrantRequest{Owner: owner(ns, name), Name: rn, Size: v.cfg.RegionSize, Pinned: true, Handoff: true})
		if err != nil && !errors.Is(err, pmem.ErrLocked) {
			return fmt.Errorf("delete the state of %s/%s: %w", ns, name, err)
		}
		if err == nil {
			if err = l.Release(false); err == nil {
				return nil
			}
		}
		if i == 50 {
			return fmt.Errorf("delete the state of %s/%s: %w", ns, name, err)
		}
		time.Sleep(100 * time.Millisecond) // an instance is still exiting
	}
}

// retire stops every instance of action key: idle ones now, busy ones when
// their activation ends. It waits until none is left.
func (v *Invoker) retire(key string) {
	v.mu.Lock()
	s := v.actions[key]
	if s == nil {
		v.mu.Unlock()
		return
	}
	var stop []*inst
	for _, in := range s.insts {
		if !in.retiring {
			in.retiring = true
			if !in.busy {
				stop = append(stop, in)
			}
		}
	}
	pending := slices.Clone(s.insts)
	v.mu.Unlock()
	for _, in := range stop {
		in.proc.Close()
	}
	for _, in := range pending {
		<-in.gone
	}
}

// owner is the pool owner of an action's region (at most 62 bytes).
func owner(ns, name string) string { return trimOwner("fn:" + ns + "/" + name) }

// newInstanceName names the n-th instance of an action for logs.
func newInstanceName(key string, n uint64) string { return fmt.Sprintf("/%s#%d", key, n) }
