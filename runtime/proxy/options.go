package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/runtime/archive"
	"github.com/marvel-serverless/marvel/runtime/gobuild"
)

// Options configure a Server. DefaultOptions gives the defaults.
type Options struct {
	// Data is the persistent-memory namespace directory: the action's region
	// is <Data>/<name>.region and its namespace's files live under
	// <Data>/fs/<namespace>/. Empty: actions get no state.
	Data string
	// Mode is the mapping mode for regions and files.
	Mode pmem.Mode
	// RegionSize is the initial size of a new region (default 4 MiB);
	// RegionMax bounds its growth (0: unbounded).
	RegionSize, RegionMax int64
	// NoRegion gives actions their namespace's files (MARVEL_FILES_DIR) but
	// no state region, so any number of runtimes of one action can run at
	// once: for stateless actions such as map tasks.
	NoRegion bool
	// LockWait is how long binding a region waits while another runtime
	// holds it (default 2 s), e.g. the container being replaced.
	LockWait time.Duration
	// Isolate runs each action as a user of its own namespace, so it can
	// reach no other namespace's regions or files (see isolate.go). Needs
	// root.
	Isolate bool
	// UIDBase and UIDCount are the users Isolate gives out, one per
	// namespace (defaults 200000 and 100000).
	UIDBase, UIDCount int
	// CacheBytes is the size of the SDK's state cache in the action process
	// (default 64 MiB).
	CacheBytes int64
	// WorkDir is where /init unpacks and builds the action. Required.
	WorkDir string
	// Builtin is an executable, or a directory holding one named exec, that
	// runs when /init carries no code (a blackbox image with the function
	// baked in).
	Builtin string
	// ActionCache, when set, is a directory where executables made by /init
	// are kept by the digest of their code, so a later cold start of the
	// same code skips unpacking and building. Actions must not be able to
	// write it. Empty: no cache.
	ActionCache string
	// Build configures compiling Go source sent to /init.
	Build gobuild.Options
	// WaitAck makes /init wait for the action's {"ok":true} on fd 3.
	WaitAck bool
	// InitTimeout bounds /init, including a Go build (default 5 min).
	InitTimeout time.Duration
	// MaxInitBytes and MaxRunBytes bound request bodies (defaults 96 MiB
	// and 16 MiB); MaxResultBytes bounds an action's answer (default 16 MiB).
	MaxInitBytes, MaxRunBytes, MaxResultBytes int64
	// Archive bounds what an /init archive may unpack to.
	Archive archive.Limits
	// Token, when set, is a secret every request must carry in
	// TokenHeader ("Authorization: Bearer <token>"); others get 403 and
	// nothing runs (see token.go). Empty: anyone who reaches the port is
	// served, as in OpenWhisk. TokenEnv is removed from Env and Build.Env.
	Token string
	// Env is added to every action's environment before the init env (e.g.
	// PATH, __OW_API_HOST).
	Env []string
	// Stdout and Stderr are the action's (and the sentinels') output; the
	// defaults are the process's own.
	Stdout, Stderr *os.File
	// Logger receives the proxy's logs. nil is silent.
	Logger *slog.Logger
}

// DefaultOptions returns a fresh Options with every default filled in.
func DefaultOptions() Options {
	return Options{
		RegionSize:     4 << 20,
		CacheBytes:     64 << 20,
		LockWait:       2 * time.Second,
		UIDBase:        200000,
		UIDCount:       100000,
		WaitAck:        true,
		InitTimeout:    5 * time.Minute,
		MaxInitBytes:   96 << 20,
		MaxRunBytes:    16 << 20,
		MaxResultBytes: 16 << 20,
		Archive:        archive.DefaultLimits(),
	}
}

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.WorkDir == "" {
		errs = append(errs, errors.New("proxy: a work directory is required"))
	}
	if o.RegionSize < 0 || o.RegionMax < 0 || (o.RegionMax > 0 && o.RegionSize > o.RegionMax) {
		errs = append(errs, fmt.Errorf("proxy: region size %d and max %d must be non-negative, size ≤ max", o.RegionSize, o.RegionMax))
	}
	if o.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("proxy: negative cache size %d", o.CacheBytes))
	}
	if o.InitTimeout <= 0 {
		errs = append(errs, fmt.Errorf("proxy: init timeout %v must be positive", o.InitTimeout))
	}
	if o.MaxInitBytes <= 0 || o.MaxRunBytes <= 0 || o.MaxResultBytes <= 0 {
		errs = append(errs, fmt.Errorf("proxy: body limits must be positive (init %d, run %d, result %d)", o.MaxInitBytes, o.MaxRunBytes, o.MaxResultBytes))
	}
	if o.Isolate {
		if o.Data == "" {
			errs = append(errs, errors.New("proxy: isolating actions needs a data directory"))
		}
		if o.UIDBase <= nobody || o.UIDCount <= 0 {
			errs = append(errs, fmt.Errorf("proxy: isolation users from %d (count %d) must start above %d", o.UIDBase, o.UIDCount, nobody))
		}
		if err := checkIsolation(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Token != "" {
		if err := validToken(o.Token); err != nil {
			errs = append(errs, err)
		}
	}
	if err := o.Archive.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
