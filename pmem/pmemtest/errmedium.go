package pmemtest

import (
	"errors"
	"sync"

	"github.com/marvel-serverless/marvel/pmem"
)

// ErrInjected is the error FaultMedium returns by default.
var ErrInjected = errors.New("pmemtest: injected fault")

// FaultMedium wraps a medium and makes chosen operations fail, as a failing
// msync (EIO) or a full filesystem during Grow would.
type FaultMedium struct {
	pmem.Medium

	mu sync.Mutex
	// Inject is consulted before each Fence and Grow with the operation and
	// how many of that operation came before (from 0). A non-nil result is
	// returned instead of performing the operation.
	Inject func(op Op, n int) error
	fences int
	grows  int
}

// NewFaultMedium wraps m with no faults.
func NewFaultMedium(m pmem.Medium) *FaultMedium { return &FaultMedium{Medium: m} }

// FailGrow makes every Grow fail with err.
func (f *FaultMedium) FailGrow(err error) {
	f.set(func(op Op, _ int) error {
		if op == OpGrow {
			return err
		}
		return nil
	})
}

func (f *FaultMedium) set(fn func(Op, int) error) {
	f.mu.Lock()
	f.Inject = fn
	f.mu.Unlock()
}

func (f *FaultMedium) check(op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := &f.fences
	if op == OpGrow {
		n = &f.grows
	}
	i := *n
	*n++
	if f.Inject == nil {
		return nil
	}
	return f.Inject(op, i)
}

// Fence implements pmem.Medium.
func (f *FaultMedium) Fence() error {
	if err := f.check(OpFence); err != nil {
		return err
	}
	return f.Medium.Fence()
}

// Grow implements pmem.Medium.
func (f *FaultMedium) Grow(size int64) error {
	if err := f.check(OpGrow); err != nil {
		return err
	}
	return f.Medium.Grow(size)
}
