package pmem

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/marvel-serverless/marvel/pmem/internal/layout"
)

// Defaults of PoolOptions.
const (
	// DefaultLease is how long a grant or renewal keeps a region leased.
	DefaultLease = time.Second
	// DefaultGrace is how long after its lease expired an unpinned region is
	// kept before it is reclaimed.
	DefaultGrace = time.Second
	// MinReapInterval bounds the reap interval derived from the lease.
	MinReapInterval = 10 * time.Millisecond
)

// PoolOptions configure a Pool. Zero fields take the defaults documented on
// each field; only Capacity is required.
type PoolOptions struct {
	// Capacity is the budget, in bytes, shared by every region of the pool's
	// namespace directory (required, > 0).
	Capacity int64
	// Lease is how long a grant or a renewal keeps a region leased. Zero
	// means DefaultLease (1s).
	Lease time.Duration
	// Grace is how long after its lease expired an unpinned region is kept
	// (and its lease can still be renewed) before it is reclaimed. Zero means
	// DefaultGrace (1s).
	Grace time.Duration
	// Region is the template for the regions the pool opens and creates
	// (Mode, InitialSize, Logger, ...). The pool sets MaxSize, Owner and
	// Pinned per grant, so those must be left zero, and ReadOnly must be
	// false. InitialSize is capped at the granted size.
	Region Options
	// Clock returns the current time; nil means time.Now. Tests inject a
	// fake clock and call Reap themselves.
	Clock func() time.Time
	// ReapInterval is how often the pool's reaper goroutine looks for
	// expired leases. Zero means Lease/4 (at least MinReapInterval) with the
	// default clock, and no reaper at all when Clock is set (the caller then
	// calls Reap, and Grant reaps when it runs short of capacity).
	ReapInterval time.Duration
	// Logger receives the pool's structured logs (adoptions, reclamations,
	// problems); nil is silent. The regions log to Region.Logger.
	Logger *slog.Logger
}

// DefaultPoolOptions returns PoolOptions with every default filled in except
// Capacity, which the caller must set.
func DefaultPoolOptions() PoolOptions {
	return PoolOptions{
		Lease:  DefaultLease,
		Grace:  DefaultGrace,
		Region: DefaultOptions(),
	}
}

// Validate reports every problem with o at once; each wraps ErrInvalid.
func (o *PoolOptions) Validate() error {
	var errs []error
	if o.Capacity <= 0 {
		errs = append(errs, fmt.Errorf("%w: pool capacity %d bytes must be positive", ErrInvalid, o.Capacity))
	}
	if o.Lease < 0 {
		errs = append(errs, fmt.Errorf("%w: negative lease %v", ErrInvalid, o.Lease))
	}
	if o.Grace < 0 {
		errs = append(errs, fmt.Errorf("%w: negative grace %v", ErrInvalid, o.Grace))
	}
	if o.ReapInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: negative reap interval %v", ErrInvalid, o.ReapInterval))
	}
	r := &o.Region
	if r.ReadOnly {
		errs = append(errs, fmt.Errorf("%w: region template is read-only; a pool grants writable regions", ErrInvalid))
	}
	if r.MaxSize != 0 {
		errs = append(errs, fmt.Errorf("%w: region template sets MaxSize %d; the pool sets it per grant (GrantRequest.Size)", ErrInvalid, r.MaxSize))
	}
	if r.Owner != "" {
		errs = append(errs, fmt.Errorf("%w: region template sets Owner %q; the pool sets it per grant (GrantRequest.Owner)", ErrInvalid, r.Owner))
	}
	if r.Pinned {
		errs = append(errs, fmt.Errorf("%w: region template sets Pinned; the pool sets it per grant (GrantRequest.Pinned)", ErrInvalid))
	}
	if err := r.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("region template: %w", err))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields.
func (o PoolOptions) withDefaults() PoolOptions {
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Clock == nil {
		o.Clock = time.Now
		if o.ReapInterval == 0 {
			o.ReapInterval = max(o.Lease/4, MinReapInterval)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Pool is a node's capacity pool of regions in one namespace directory. It
// grants regions to owners (a function, a job) within a byte budget, under
// leases that the owners renew; a region whose lease expired and was not
// renewed within the grace period is reclaimed — closed and deleted — unless
// it is pinned, so capacity moves between functions and jobs within seconds.
//
// Lifecycle of a region in the pool:
//
//   - Grant reserves max(Size, current size) bytes of the budget, opens the
//     region (creating it if needed) and returns a Lease holding its Store.
//   - Renew extends the lease; after expiry and within the grace period it
//     revives it.
//   - Release(true) closes the store but keeps the region on disk, still
//     counted against the budget, until its lease expiry plus grace (never,
//     if pinned); a later Grant of the same name gets its data back.
//     Release(false) deletes it and frees its reservation at once.
//   - Reap, run by the reaper goroutine every ReapInterval and by Grant when
//     it runs short of capacity, reclaims every unpinned region whose lease
//     expired more than Grace ago.
//
// The holder of a reclaimed lease finds its Store closed (store methods fail
// with ErrClosed) and its Lease methods fail with ErrLeaseExpired.
//
// All methods are safe for concurrent use. Opening, closing and deleting
// regions happen outside the pool's lock, so a slow filesystem delays only
// the operation on that region.
//
// # Caveats
//
//   - Leases live in memory only. After a restart NewPool adopts the regions
//     it finds: pinned ones are kept forever, unpinned ones get a fresh lease
//     starting at adoption, so they survive for Lease+Grace after the restart
//     unless re-granted.
//   - A region's Owner and Pinned flag are written into its superblock when it
//     is created. A re-grant may change the owner the pool records (and
//     reports) but not the pinned flag: a Grant whose Pinned differs from
//     the region's fails with ErrInvalid.
//   - A region that cannot be opened (state "corrupt") is never deleted by the
//     pool and stays counted at its file size, until an operator repairs it
//     (a later Grant then opens it) or deletes its file (the next Reap then
//     forgets it).
//   - Only one pool (one process) may manage a namespace directory; regions
//     open in another process are reported corrupt, as they cannot be opened.
type Pool struct {
	dir       string
	opts      PoolOptions // with defaults
	lg        *slog.Logger
	now       func() time.Time
	reapEvery time.Duration // 0: no reaper goroutine

	// The reaper goroutine, started by NewPool when reapEvery > 0, calls Reap
	// every reapEvery until Close closes stop; it closes done when it exits.
	stop chan struct{}
	done chan struct{}

	// mu guards the fields below, every poolRegion, and the mutable fields
	// of every Lease. It is never held across file I/O.
	mu       sync.Mutex
	regions  map[string]*poolRegion
	reserved int64 // sum of regions[*].reserved
	closed   bool
	grants   uint64
	renewals uint64
	reclaims uint64
}

// poolRegion is the pool's record of one region. Guarded by Pool.mu.
type poolRegion struct {
	name     string
	owner    string
	pinned   bool
	reserved int64     // bytes of the budget held
	size     int64     // last known size (store or file)
	expires  time.Time // lease expiry while not leased (zero: none, e.g. pinned)
	lease    *Lease    // current lease (possibly expired), nil if none
	openErr  error     // why the region could not be opened: state "corrupt"

	// busy is non-nil while a grant, release or reclamation of the region is
	// doing I/O outside the lock; it is closed when that ends. Other
	// operations on the region wait for it (Grant, Close) or skip it (Reap).
	busy chan struct{}
	// reclaiming is set while a reclamation or deleting release is in flight:
	// its reservation is about to be freed. granting is set while a grant is.
	reclaiming bool
	granting   bool
}

// expiry is the region's lease expiry, held or not.
func (r *poolRegion) expiry() time.Time {
	if r.lease != nil {
		return r.lease.expires
	}
	return r.expires
}

// reclaimableLocked reports whether Reap may reclaim r at now.
func (r *poolRegion) reclaimableLocked(now time.Time, grace time.Duration) bool {
	if r.pinned || r.openErr != nil || r.busy != nil {
		return false
	}
	exp := r.expiry()
	return !exp.IsZero() && now.Sub(exp) > grace
}

// NewPool opens a capacity pool over namespace directory dir, which must
// exist. It removes the temporary files of interrupted creations and adopts
// the regions already there: each counts against the capacity at its file
// size; pinned ones are kept forever, unpinned ones get a lease starting now
// (so a region left by a crashed job is reclaimed after Lease+Grace unless it
// is re-granted). A region that cannot be opened is adopted as "corrupt",
// counted at its file size, logged, and never deleted. Adopted regions may
// exceed the capacity: NewPool logs it and Free reports 0 until enough are
// released or reclaimed.
//
// When the reap interval is positive (always, with the default clock) NewPool
// starts the reaper goroutine; Close stops it.
func NewPool(dir string, opts PoolOptions) (*Pool, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("pmem: pool namespace: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: pool namespace %s is not a directory", ErrInvalid, dir)
	}
	p := &Pool{
		dir:       dir,
		opts:      opts,
		lg:        opts.Logger,
		now:       opts.Clock,
		reapEvery: opts.ReapInterval,
		regions:   make(map[string]*poolRegion),
	}
	removed, err := RemoveTemp(dir)
	if err != nil {
		return nil, err
	}
	if removed > 0 {
		p.lg.Info("removed temporary files of interrupted region creations", "dir", dir, "files", removed)
	}
	names, err := List(dir)
	if err != nil {
		return nil, err
	}
	now := p.now()
	for _, name := range names {
		p.adopt(name, now)
	}
	p.lg.Info("pool opened", "dir", dir, "capacity", opts.Capacity, "regions", len(p.regions),
		"reserved", p.reserved, "lease", opts.Lease, "grace", opts.Grace, "reap_interval", p.reapEvery)
	if p.reserved > opts.Capacity {
		p.lg.Warn("adopted regions exceed the pool capacity; grants will fail until regions are released or reclaimed",
			"dir", dir, "reserved", p.reserved, "capacity", opts.Capacity)
	}
	if p.reapEvery > 0 {
		p.stop = make(chan struct{})
		p.done = make(chan struct{})
		go p.reaper()
	}
	return p, nil
}

// adopt records region name found on disk at start-up. It runs before the
// pool is shared, so it needs no lock.
func (p *Pool) adopt(name string, now time.Time) {
	path, _ := RegionPath(p.dir, name) // List returns valid names only
	var fileSize int64
	if fi, err := os.Stat(path); err == nil {
		fileSize = fi.Size()
	}
	r := &poolRegion{name: name, size: fileSize, reserved: fileSize}
	ro := p.opts.Region
	ro.ReadOnly = true
	s, err := Open(p.dir, name, ro)
	if err != nil {
		r.openErr = err
		p.lg.Error("region cannot be opened; adopted as corrupt and kept (repair or delete it)",
			"name", name, "path", path, "bytes", fileSize, "err", err)
	} else {
		info := s.Info()
		r.owner, r.pinned = info.Owner, info.Pinned
		if err := s.Close(); err != nil {
			p.lg.Warn("closing adopted region", "name", name, "err", err)
		}
		if !r.pinned {
			r.expires = now.Add(p.opts.Lease)
		}
		p.lg.Info("region adopted", "name", name, "owner", r.owner, "pinned", r.pinned, "bytes", fileSize)
	}
	p.regions[name] = r
	p.reserved += r.reserved
}

// reaper is the pool's one background goroutine; see Pool.reapEvery.
func (p *Pool) reaper() {
	defer close(p.done)
	t := time.NewTicker(p.reapEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.Reap()
		}
	}
}

// GrantRequest asks a Pool for a region.
type GrantRequest struct {
	// Owner names who holds the region, e.g. "fn:guest/counter" or "job:42"
	// (1 to 62 bytes).
	Owner string
	// Name is the region's name in the namespace (see ValidName). Granting
	// the name of a region that exists gives its data back.
	Name string
	// Size is the capacity reserved for the region and the most it may grow
	// to (its MaxSize); at least 64 KiB. A region already larger than Size
	// reserves its current size and cannot grow.
	Size int64
	// Pinned exempts the region from reclamation; it is kept until released
	// with keep=false. Recorded in the region when it is created.
	Pinned bool
	// Handoff grants the region for another process to open (an action's
	// runtime): the pool creates it if needed, checks that it recovers, and
	// closes it again, so the lease holds capacity and a name but no store
	// (Lease.Store returns nil). The pool never deletes a handed-off region
	// that is open read-write elsewhere: reclaiming or releasing it first
	// takes the region's exclusive lock, and a region still locked keeps its
	// reservation and gets another lease period.
	Handoff bool
}

func (req *GrantRequest) validate() error {
	var errs []error
	if err := ValidName(req.Name); err != nil {
		errs = append(errs, err)
	}
	if req.Owner == "" || len(req.Owner) > layout.OwnerMax {
		errs = append(errs, fmt.Errorf("%w: owner %q of %d bytes (want 1 to %d)", ErrInvalid, req.Owner, len(req.Owner), layout.OwnerMax))
	}
	if req.Size < layout.MinSize {
		errs = append(errs, fmt.Errorf("%w: grant of %d bytes below the region minimum %d", ErrInvalid, req.Size, int64(layout.MinSize)))
	}
	return errors.Join(errs...)
}

// regionOptions are the options a grant opens its region with.
func (p *Pool) regionOptions(req GrantRequest) Options {
	o := p.opts.Region
	o.MaxSize = req.Size
	o.Owner = req.Owner
	o.Pinned = req.Pinned
	if o.InitialSize == 0 {
		o.InitialSize = DefaultOptions().InitialSize
	}
	o.InitialSize = min(o.InitialSize, req.Size)
	return o
}

// Grant reserves req.Size bytes, opens region req.Name (creating it if it
// does not exist) and returns a lease on it expiring Lease from now.
//
// A name whose lease is live fails with an error wrapping ErrExist. A region
// on disk without a live lease — adopted, released with keep, or leased but
// expired — is re-granted with its data (the previous holder, if any, loses
// its lease and store). When the budget is short, Grant first reclaims the
// expired leases of other regions; if it is still short it fails with a
// *CapacityError (errors.Is ErrNoCapacity). A region that cannot be opened
// fails with the open error (e.g. wrapping ErrCorrupt), and one whose pinned
// flag differs from req.Pinned with ErrInvalid.
func (p *Pool) Grant(req GrantRequest) (*Lease, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	total := p.opts.Capacity
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: pool %s closed", ErrClosed, p.dir)
		}
		now := p.now()
		r := p.regions[req.Name]
		if r != nil && r.busy != nil {
			busy := r.busy
			p.mu.Unlock()
			<-busy
			continue
		}
		if r != nil && r.lease != nil && now.Before(r.lease.expires) {
			err := fmt.Errorf("%w: region %q is leased to %q until %s", ErrExist, req.Name, r.owner,
				r.lease.expires.Format(time.RFC3339Nano))
			p.mu.Unlock()
			return nil, err
		}
		if r != nil && r.openErr == nil && r.pinned != req.Pinned {
			p.mu.Unlock()
			return nil, pinnedMismatch(req.Name, r.pinned)
		}
		var cur, old int64
		if r != nil {
			cur, old = r.size, r.reserved
		}
		need := max(req.Size, cur)
		avail := total - (p.reserved - old)
		if need > avail {
			if need > total {
				p.mu.Unlock()
				return nil, &CapacityError{Asked: need, Free: max(avail, 0), Total: total}
			}
			victims := p.collectLocked(now, req.Name)
			var inflight []chan struct{}
			for _, o := range p.regions {
				if o.reclaiming {
					inflight = append(inflight, o.busy)
				}
			}
			p.mu.Unlock()
			if len(victims) == 0 && len(inflight) == 0 {
				return nil, &CapacityError{Asked: need, Free: max(avail, 0), Total: total}
			}
			p.reclaim(victims)
			for _, c := range inflight {
				<-c
			}
			continue // capacity was freed: try again
		}

		// Reserve, take the region over, and open it outside the lock.
		prev := poolRegion{}
		isNew := r == nil
		var oldStore *Store
		if isNew {
			r = &poolRegion{name: req.Name}
			p.regions[req.Name] = r
		} else {
			prev = *r
			if l := r.lease; l != nil { // expired: the holder loses it
				l.end = endSuperseded
				oldStore = l.store
				r.expires = l.expires
				r.lease = nil
				prev.lease, prev.expires = nil, l.expires
			}
		}
		r.busy = make(chan struct{})
		r.granting = true
		p.reserved += need - r.reserved
		r.reserved = need
		p.mu.Unlock()

		return p.open(r, req, oldStore, isNew, prev)
	}
}

// open completes a grant of r, which Grant marked busy with need reserved:
// it closes the previous holder's store, opens the region and installs the
// lease, or rolls r back to prev (or drops it, if isNew) on failure.
func (p *Pool) open(r *poolRegion, req GrantRequest, oldStore *Store, isNew bool, prev poolRegion) (*Lease, error) {
	if oldStore != nil {
		if err := oldStore.Close(); err != nil && !errors.Is(err, ErrClosed) {
			p.lg.Warn("closing the store of a superseded lease", "name", r.name, "err", err)
		}
	}
	s, created, err := OpenOrCreate(p.dir, req.Name, p.regionOptions(req))
	var info Info
	var size int64
	if err == nil {
		info, size = s.Info(), s.Stats().Size
		if info.Pinned != req.Pinned {
			err = pinnedMismatch(req.Name, info.Pinned)
		}
	}
	if err == nil && req.Handoff {
		if err = s.Close(); err == nil {
			s = nil
		}
	}
	if err == nil {
		p.mu.Lock()
		l, ierr := p.installLocked(r, req, s, size)
		p.mu.Unlock()
		if ierr == nil {
			p.lg.Debug("region granted", "name", req.Name, "owner", req.Owner, "pinned", req.Pinned,
				"bytes", size, "created", created)
			return l, nil
		}
		err = ierr
	}

	// The grant failed: undo it outside the lock. A region found on disk
	// that the pool did not know (put there after NewPool) is adopted, as
	// NewPool would have, rather than left uncounted.
	var onDisk *poolRegion
	switch {
	case s != nil:
		if cerr := s.Close(); cerr != nil {
			p.lg.Warn("closing a region after a failed grant", "name", req.Name, "err", cerr)
		}
		if created {
			if rerr := Remove(p.dir, req.Name); rerr != nil {
				p.lg.Error("removing a region created by a failed grant; it stays counted", "name", req.Name, "err", rerr)
				onDisk = &poolRegion{owner: req.Owner, pinned: req.Pinned, size: size}
			}
		} else if isNew {
			onDisk = &poolRegion{owner: info.Owner, pinned: info.Pinned, size: size}
		}
	case isNew && isCorrupt(err):
		path, _ := RegionPath(p.dir, req.Name)
		if fi, serr := os.Stat(path); serr == nil {
			onDisk = &poolRegion{size: fi.Size(), openErr: err}
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	busy := r.busy
	p.reserved -= r.reserved
	if onDisk != nil {
		onDisk.name, onDisk.reserved = req.Name, onDisk.size
		if !onDisk.pinned && onDisk.openErr == nil {
			onDisk.expires = p.now().Add(p.opts.Lease)
		}
		prev, isNew = *onDisk, false
		p.lg.Info("region adopted after a failed grant", "name", req.Name, "owner", onDisk.owner,
			"pinned", onDisk.pinned, "bytes", onDisk.size, "err", err)
	}
	if isNew {
		delete(p.regions, r.name)
	} else {
		*r = prev
		if isCorrupt(err) {
			r.openErr = err
		}
		p.reserved += r.reserved
	}
	close(busy)
	r.busy, r.granting = nil, false
	return nil, err
}

// installLocked ends a successful grant of r: it reserves the rest if the
// region turned out larger than reserved, and installs a lease on s. On error
// r is left for the caller to roll back.
func (p *Pool) installLocked(r *poolRegion, req GrantRequest, s *Store, size int64) (*Lease, error) {
	if p.closed {
		return nil, fmt.Errorf("%w: pool %s closed", ErrClosed, p.dir)
	}
	if size > r.reserved {
		if avail := p.opts.Capacity - (p.reserved - r.reserved); size > avail {
			return nil, &CapacityError{Asked: size, Free: max(avail, 0), Total: p.opts.Capacity}
		}
		p.reserved += size - r.reserved
		r.reserved = size
	}
	l := &Lease{p: p, r: r, store: s, name: req.Name, owner: req.Owner, pinned: req.Pinned,
		expires: p.now().Add(p.opts.Lease)}
	if req.Handoff {
		l.store = nil
	}
	r.owner, r.pinned, r.size = req.Owner, req.Pinned, size
	r.openErr = nil
	r.expires = time.Time{}
	r.lease = l
	p.grants++
	close(r.busy)
	r.busy, r.granting = nil, false
	return l, nil
}

func pinnedMismatch(name string, pinned bool) error {
	return fmt.Errorf("%w: region %q exists with pinned=%v; grant it with the same flag (or release it with keep=false first)",
		ErrInvalid, name, pinned)
}

func isCorrupt(err error) bool {
	return errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrVersion)
}

// collectLocked picks the regions Reap would reclaim at now (all but except),
// marks them busy and reclaiming and ends their leases.
func (p *Pool) collectLocked(now time.Time, except string) []*poolRegion {
	if p.closed {
		return nil
	}
	var victims []*poolRegion
	for _, r := range p.regions {
		if r.name == except || !r.reclaimableLocked(now, p.opts.Grace) {
			continue
		}
		r.busy = make(chan struct{})
		r.reclaiming = true
		if l := r.lease; l != nil {
			l.end = endReclaimed
			r.expires = l.expires
		}
		victims = append(victims, r)
	}
	return victims
}

// reclaim closes and deletes the regions collectLocked picked, frees their
// reservations and returns how many it deleted.
func (p *Pool) reclaim(victims []*poolRegion) int {
	n := 0
	for _, r := range victims {
		// r.lease is only written under the lock by operations that check
		// busy first, so reading it here is safe.
		p.mu.Lock()
		l := r.lease
		p.mu.Unlock()
		if l != nil && l.store != nil {
			if err := l.store.Close(); err != nil && !errors.Is(err, ErrClosed) {
				p.lg.Warn("closing a reclaimed region", "name", r.name, "err", err)
			}
		}
		err := p.remove(r.name)
		if errors.Is(err, ErrNotExist) {
			err = nil
		}
		p.mu.Lock()
		if err != nil {
			p.lg.Error("reclaiming region: delete failed; retrying after another lease", "name", r.name, "owner", r.owner, "err", err)
			r.lease = nil
			r.expires = p.now().Add(p.opts.Lease)
		} else {
			delete(p.regions, r.name)
			p.reserved -= r.reserved
			p.reclaims++
			n++
			p.lg.Info("region reclaimed", "name", r.name, "owner", r.owner, "bytes", r.reserved,
				"expired", r.expiry().Format(time.RFC3339Nano))
		}
		r.reclaiming = false
		close(r.busy)
		r.busy = nil
		p.mu.Unlock()
	}
	return n
}

// Reap reclaims now every unpinned region whose lease expired more than
// Grace ago: its store is closed (its holder's lease ends), its file deleted
// and its reservation freed. It also forgets corrupt regions whose file an
// operator deleted. It returns how many regions it reclaimed. The reaper
// goroutine calls it every ReapInterval.
func (p *Pool) Reap() int {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0
	}
	victims := p.collectLocked(p.now(), "")
	var corrupt []*poolRegion
	for _, r := range p.regions {
		if r.openErr != nil && r.busy == nil {
			corrupt = append(corrupt, r)
		}
	}
	p.mu.Unlock()
	n := p.reclaim(victims)
	for _, r := range corrupt {
		path, _ := RegionPath(p.dir, r.name)
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		p.mu.Lock()
		if p.regions[r.name] == r && r.openErr != nil && r.busy == nil {
			delete(p.regions, r.name)
			p.reserved -= r.reserved
			p.lg.Info("corrupt region deleted from the namespace; forgotten", "name", r.name, "bytes", r.reserved)
		}
		p.mu.Unlock()
	}
	return n
}

// Close stops the reaper goroutine, waits for grants and reclamations in
// flight, and closes every open store; the regions stay on disk. Held leases
// end: their methods fail with ErrClosed. A second Close returns ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("%w: pool %s", ErrClosed, p.dir)
	}
	p.closed = true
	var busy []chan struct{}
	for _, r := range p.regions {
		if r.busy != nil {
			busy = append(busy, r.busy)
		}
	}
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.done
	}
	for _, c := range busy {
		<-c
	}
	p.mu.Lock()
	var stores []*Store
	for _, r := range p.regions {
		if l := r.lease; l != nil {
			l.end = endPoolClosed
			r.expires = l.expires
			r.lease = nil
			if l.store != nil {
				stores = append(stores, l.store)
			}
		}
	}
	p.mu.Unlock()
	var errs []error
	for _, s := range stores {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	p.lg.Info("pool closed", "dir", p.dir, "stores_closed", len(stores))
	return errors.Join(errs...)
}

// PoolStats is a snapshot of a pool's accounting and counters.
type PoolStats struct {
	Capacity int64 // the budget
	Reserved int64 // bytes reserved by all regions: max(granted size, current size) each
	Used     int64 // bytes the regions occupy now (store size if open, else file size)
	Free     int64 // Capacity - Reserved, at least 0
	Regions  int   // regions known, in any state
	Leased   int   // regions held by an unexpired lease
	Pinned   int   // pinned regions
	Grants   uint64
	Renewals uint64
	Reclaims uint64 // regions reclaimed after their lease and grace expired
}

// Stats returns a snapshot of the pool's accounting.
func (p *Pool) Stats() PoolStats {
	snap := p.snapshot()
	p.mu.Lock()
	st := PoolStats{
		Capacity: p.opts.Capacity,
		Reserved: p.reserved,
		Free:     max(p.opts.Capacity-p.reserved, 0),
		Regions:  len(snap),
		Grants:   p.grants,
		Renewals: p.renewals,
		Reclaims: p.reclaims,
	}
	p.mu.Unlock()
	for _, rs := range snap {
		st.Used += rs.Size
		if rs.State == StateLeased {
			st.Leased++
		}
		if rs.Pinned {
			st.Pinned++
		}
	}
	return st
}

// RegionState is the state of a region in a pool.
type RegionState string

// Region states reported by Pool.Regions.
const (
	// StateLeased: held by a lease that has not expired (or being granted).
	StateLeased RegionState = "leased"
	// StateExpired: its lease (held or not) expired; an unpinned region is
	// reclaimed once the grace period has passed too.
	StateExpired RegionState = "expired"
	// StateAdopted: on disk without a lease and not expired — found at
	// start-up, or released with keep — or pinned without a lease.
	StateAdopted RegionState = "adopted"
	// StateCorrupt: could not be opened; kept and counted until repaired or
	// deleted by an operator.
	StateCorrupt RegionState = "corrupt"
)

// RegionStatus describes one region of a pool.
type RegionStatus struct {
	Name     string
	Owner    string // as granted; for an adopted region, as recorded at creation
	Pinned   bool
	Reserved int64 // bytes of the budget it holds
	Size     int64 // bytes it occupies now
	Leased   bool  // a Lease holds it (expired or not): its store is open
	Expires  time.Time
	State    RegionState
	Err      error // why it could not be opened (StateCorrupt)
}

// Regions returns the status of every region of the pool, sorted by name.
func (p *Pool) Regions() []RegionStatus { return p.snapshot() }

func (p *Pool) snapshot() []RegionStatus {
	p.mu.Lock()
	now := p.now()
	out := make([]RegionStatus, 0, len(p.regions))
	stores := make([]*Store, 0, len(p.regions))
	for _, r := range p.regions {
		rs := RegionStatus{Name: r.name, Owner: r.owner, Pinned: r.pinned, Reserved: r.reserved,
			Size: r.size, Leased: r.lease != nil, Expires: r.expiry(), Err: r.openErr}
		var s *Store
		switch {
		case r.openErr != nil:
			rs.State = StateCorrupt
		case r.granting:
			rs.State = StateLeased
		case !rs.Expires.IsZero() && !now.Before(rs.Expires):
			rs.State = StateExpired
		case r.lease != nil:
			rs.State = StateLeased
		default:
			rs.State = StateAdopted
		}
		if r.lease != nil {
			s = r.lease.store
		}
		if s == nil && r.lease != nil {
			if fi, err := os.Stat(p.pathOf(r.name)); err == nil {
				rs.Size = fi.Size()
			}
		}
		out = append(out, rs)
		stores = append(stores, s)
	}
	p.mu.Unlock()
	for i, s := range stores {
		if s != nil {
			out[i].Size = s.Stats().Size
		}
	}
	slices.SortFunc(out, func(a, b RegionStatus) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// leaseEnd is why a lease stopped being current.
type leaseEnd uint8

const (
	endNone       leaseEnd = iota
	endReleased            // Release
	endReclaimed           // expired past grace and reclaimed
	endSuperseded          // expired and re-granted
	endPoolClosed          // Pool.Close
)

// Lease is a grant of one region to one owner until an expiry that Renew
// extends. Its methods are safe for concurrent use.
type Lease struct {
	p      *Pool
	r      *poolRegion
	store  *Store
	name   string
	owner  string
	pinned bool

	// Guarded by p.mu.
	expires time.Time
	end     leaseEnd
}

// endedLocked returns why the lease is no longer current, or nil.
func (l *Lease) endedLocked() error {
	switch l.end {
	case endReleased:
		return fmt.Errorf("%w: lease on region %q already released", ErrClosed, l.name)
	case endReclaimed:
		return fmt.Errorf("%w: region %q was reclaimed after its lease expired at %s", ErrLeaseExpired, l.name,
			l.expires.Format(time.RFC3339Nano))
	case endSuperseded:
		return fmt.Errorf("%w: region %q was granted again after this lease expired at %s", ErrLeaseExpired, l.name,
			l.expires.Format(time.RFC3339Nano))
	case endPoolClosed:
		return fmt.Errorf("%w: pool %s closed", ErrClosed, l.p.dir)
	}
	return nil
}

// Store returns the region's open store. It is valid until Release or the
// reclamation of the region; afterwards its methods fail with ErrClosed. Do
// not Close it: Release does. A handed-off grant (GrantRequest.Handoff) has
// no store: Store returns nil.
func (l *Lease) Store() *Store { return l.store }

// Path returns the region's file, for a process the region is handed to.
func (l *Lease) Path() string { return l.p.pathOf(l.name) }

// Name returns the region's name.
func (l *Lease) Name() string { return l.name }

// Owner returns the owner the region was granted to.
func (l *Lease) Owner() string { return l.owner }

// Pinned reports whether the region is exempt from reclamation.
func (l *Lease) Pinned() bool { return l.pinned }

// Expires returns when the lease expires unless renewed.
func (l *Lease) Expires() time.Time {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	return l.expires
}

// Renew extends the lease to Lease from now. A lease that expired less than
// Grace ago is revived. Once the grace period has passed (for an unpinned
// region) or the region was reclaimed or re-granted, Renew fails with an
// error wrapping ErrLeaseExpired; after Release or Pool.Close, with ErrClosed.
func (l *Lease) Renew() error {
	p := l.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := l.endedLocked(); err != nil {
		return err
	}
	if p.closed {
		return fmt.Errorf("%w: pool %s closed", ErrClosed, p.dir)
	}
	now := p.now()
	if !l.pinned && now.Sub(l.expires) > p.opts.Grace {
		return fmt.Errorf("%w: lease on region %q expired at %s, more than the grace of %v ago; it is being reclaimed",
			ErrLeaseExpired, l.name, l.expires.Format(time.RFC3339Nano), p.opts.Grace)
	}
	l.expires = now.Add(p.opts.Lease)
	p.renewals++
	return nil
}

// Release ends the lease and closes the store. With keep the region stays on
// disk, still counted against the pool's capacity as an unleased region,
// until its lease expiry (Release does not extend it: Renew first to keep it
// longer) plus the grace period, when it is reclaimed — never, if it is
// pinned; a Grant of the same name before then gets its data back. Without
// keep the region is deleted and its capacity freed before Release returns.
// A second Release fails with ErrClosed; one after reclamation with
// ErrLeaseExpired.
func (l *Lease) Release(keep bool) error {
	p, r := l.p, l.r
	p.mu.Lock()
	if err := l.endedLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("%w: pool %s closed", ErrClosed, p.dir)
	}
	l.end = endReleased
	r.lease = nil
	r.expires = l.expires
	if r.pinned {
		r.expires = time.Time{}
	}
	r.busy = make(chan struct{})
	r.reclaiming = !keep
	p.mu.Unlock()

	var size int64
	var errs []error
	if l.store != nil {
		size = l.store.Stats().Size
		if err := l.store.Close(); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	} else if fi, err := os.Stat(p.pathOf(l.name)); err == nil {
		size = fi.Size()
	}
	var rmErr error
	if !keep {
		if rmErr = p.remove(l.name); errors.Is(rmErr, ErrNotExist) {
			rmErr = nil
		}
		errs = append(errs, rmErr)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	r.size = size
	if !keep && rmErr == nil {
		delete(p.regions, r.name)
		p.reserved -= r.reserved
	} else if !keep {
		p.lg.Error("releasing region: delete failed; it stays counted", "name", r.name, "err", rmErr)
	}
	p.lg.Debug("region released", "name", r.name, "owner", r.owner, "keep", keep, "bytes", size)
	r.reclaiming = false
	close(r.busy)
	r.busy = nil
	return errors.Join(errs...)
}

// pathOf is the file of region name in the pool's directory.
func (p *Pool) pathOf(name string) string {
	path, _ := RegionPath(p.dir, name) // names in the pool are valid
	return path
}

// remove deletes region name, unless another process holds it open
// read-write (a handed-off region still in use): then it fails with an
// error wrapping ErrLocked and deletes nothing.
func (p *Pool) remove(name string) error {
	f, err := os.OpenFile(p.pathOf(name), os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: region %q", ErrNotExist, name)
		}
		return fmt.Errorf("pmem: open region %q to delete it: %w", name, err)
	}
	defer f.Close()
	if err := LockFile(f); err != nil {
		return fmt.Errorf("region %q is open in another process; not deleted: %w", name, err)
	}
	// Deleting the file while holding its lock: no one can open it in
	// between and lose writes to an unlinked file.
	return Remove(p.dir, name)
}
