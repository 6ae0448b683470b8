package invoker

import (
	"fmt"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// OpenWhisk's action limits: defaults and ranges (timeout in ms, memory and
// logs in MB). Concurrency goes to 500, as OpenWhisk configured for
// intra-container concurrency; see Limits.Concurrency for what it means here.
const (
	DefaultTimeoutMs   = 60000
	MinTimeoutMs       = 100
	MaxTimeoutMs       = 300000
	DefaultMemoryMB    = 256
	MinMemoryMB        = 128
	MaxMemoryMB        = 512
	DefaultLogsMB      = 10
	MinLogsMB          = 0
	MaxLogsMB          = 10
	DefaultConcurrency = 1
	MinConcurrency     = 1
	MaxConcurrency     = 500
)

// Limits are an action's effective limits.
type Limits struct {
	TimeoutMs int
	MemoryMB  int
	LogsMB    int
	// Concurrency is how many instances of a stateless action may run at
	// once. A stateful action has one instance, the holder of its region,
	// whatever this says: its activations queue there.
	Concurrency int
}

// DefaultLimits are the limits of an action created without any.
func DefaultLimits() Limits {
	return Limits{TimeoutMs: DefaultTimeoutMs, MemoryMB: DefaultMemoryMB, LogsMB: DefaultLogsMB, Concurrency: DefaultConcurrency}
}

// Apply returns l with the fields set in w, each checked against its range.
func (l Limits) Apply(w *whisk.Limits) (Limits, error) {
	if w == nil {
		return l, nil
	}
	set := func(dst *int, v *int, what, unit string, lo, hi int) error {
		if v == nil {
			return nil
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("%s %d %s exceeds allowed threshold of %d %s to %d %s", what, *v, unit, lo, unit, hi, unit)
		}
		*dst = *v
		return nil
	}
	for _, err := range []error{
		set(&l.TimeoutMs, w.Timeout, "timeout", "milliseconds", MinTimeoutMs, MaxTimeoutMs),
		set(&l.MemoryMB, w.Memory, "memory", "MB", MinMemoryMB, MaxMemoryMB),
		set(&l.LogsMB, w.Logs, "log size", "MB", MinLogsMB, MaxLogsMB),
		set(&l.Concurrency, w.Concurrency, "concurrency", "activations", MinConcurrency, MaxConcurrency),
	} {
		if err != nil {
			return l, err
		}
	}
	return l, nil
}

// Whisk returns l as the API shows it.
func (l Limits) Whisk() *whisk.Limits {
	t, m, g, c := l.TimeoutMs, l.MemoryMB, l.LogsMB, l.Concurrency
	return &whisk.Limits{Timeout: &t, Memory: &m, Logs: &g, Concurrency: &c}
}

// LimitsOf returns the effective limits of a stored action.
func LimitsOf(a *whisk.Action) Limits {
	l, err := DefaultLimits().Apply(a.Limits)
	if err != nil { // stored actions were checked; keep the defaults
		return DefaultLimits()
	}
	return l
}
