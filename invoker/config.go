// Package invoker is Marvel's single-node OpenWhisk stand-in: it runs
// actions as `marvel runtime` child processes (as OpenWhisk's invoker runs
// containers), keeps them warm, routes each activation to the instance that
// holds its action's state, grants each action its persistent-memory region
// from the node's capacity pool under a lease it renews while the action
// lives, and records every activation durably. The REST API in front of it
// is package invoker/api.
package invoker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/marvel-serverless/marvel/pmem"
)

// Config configures an Invoker. DefaultConfig gives the defaults.
type Config struct {
	// Data is the persistent-memory namespace directory: action regions at
	// its top, the namespace files under fs/ (the HDFS bridge's tree), and
	// the invoker's records under .invoker/. Required.
	Data string
	// Mode maps the regions: auto, devdax, fsdax or emulated.
	Mode pmem.Mode
	// Binary is the marvel executable run as `marvel runtime` for each
	// instance. Required.
	Binary string
	// RuntimeArgs are added to every instance's command line (after the
	// ones the invoker sets).
	RuntimeArgs []string
	// Env is every instance's environment (PATH, HOME, __OW_API_HOST...).
	Env []string
	// WorkDir holds the instances' work directories. Required.
	WorkDir string
	// ActionCache, SDKDir and Isolate are passed to the runtime
	// (--action-cache, --sdk, --isolate).
	ActionCache, SDKDir string
	Isolate             bool

	// Capacity is the PMEM pool's budget in bytes for every region under
	// Data; RegionSize is what each action's region is granted (its most).
	Capacity, RegionSize int64
	// Lease is how long a region grant lasts between renewals, which the
	// invoker makes every Lease/3 while the action has an instance.
	Lease time.Duration

	// MemoryMB is the node's memory budget: the sum of limits.memory of
	// live instances never exceeds it.
	MemoryMB int
	// IdleTimeout is how long an idle instance stays warm (OpenWhisk: 10
	// minutes).
	IdleTimeout time.Duration
	// MaxWait bounds how long an activation waits for an instance (the
	// node is full); it then fails with a whisk internal error.
	MaxWait time.Duration
	// KillGrace is how long past its time limit an activation's instance
	// may take to answer before it is killed and replaced.
	KillGrace time.Duration

	// MaxActivations and MaxActivationBytes bound the activation records
	// kept (oldest dropped first).
	MaxActivations     int
	MaxActivationBytes int64

	// Registry receives the invoker's Prometheus metrics; nil: none.
	Registry prometheus.Registerer
	// Logger receives structured logs; nil is silent.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in; Data,
// Binary and WorkDir are still to be set.
func DefaultConfig() Config {
	return Config{
		Mode:           pmem.ModeAuto,
		Capacity:       16 << 30,
		RegionSize:     64 << 20,
		Lease:          30 * time.Second,
		MemoryMB:       4096,
		IdleTimeout:    10 * time.Minute,
		MaxWait:        5 * time.Minute,
		KillGrace:      2 * time.Second,
		MaxActivations: 100000,
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("invoker: a data directory is required"))
	}
	if c.Binary == "" {
		errs = append(errs, errors.New("invoker: the marvel executable for runtime instances is required"))
	}
	if c.WorkDir == "" {
		errs = append(errs, errors.New("invoker: a work directory is required"))
	}
	if c.Capacity <= 0 || c.RegionSize < 64<<10 || c.RegionSize > c.Capacity {
		errs = append(errs, fmt.Errorf("invoker: PMEM capacity %d and region size %d: want 64 KiB ≤ region size ≤ capacity", c.Capacity, c.RegionSize))
	}
	if c.Lease < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("invoker: region lease %v is below 100ms", c.Lease))
	}
	if c.MemoryMB < MinMemoryMB {
		errs = append(errs, fmt.Errorf("invoker: memory budget %d MB is below one instance (%d MB)", c.MemoryMB, MinMemoryMB))
	}
	if c.IdleTimeout <= 0 || c.MaxWait <= 0 || c.KillGrace <= 0 {
		errs = append(errs, fmt.Errorf("invoker: idle timeout %v, max wait %v and kill grace %v must be positive", c.IdleTimeout, c.MaxWait, c.KillGrace))
	}
	if c.MaxActivations < 0 || c.MaxActivationBytes < 0 {
		errs = append(errs, errors.New("invoker: activation retention limits must not be negative"))
	}
	return errors.Join(errs...)
}
