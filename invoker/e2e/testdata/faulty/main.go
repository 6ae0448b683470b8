// Command faulty is the end-to-end tests' action for storage faults: it
// opens its region as the SDK does (the descriptor the runtime hands it)
// but through pmemtest.FaultMedium, so a parameter can make the region's
// fences (msync, or the persistence fence on tmpfs) fail. Its parameter
// "op" picks what it does; every answer carries the process's "pid":
//
//   - "put": stores "value" (a string) under "key", answering {"ok": true}
//     or the error (an application error, as an SDK action returns it);
//   - "get": answers {"value": the value of "key"} or the error;
//   - "fail-fences": makes every later fence fail with EIO, as msync does
//     when the device cannot write back; answers {"failing": true};
//   - "heal": makes fences work again.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/pmem/pmemtest"
	"github.com/marvel-serverless/marvel/runtime/sdk"
)

func main() { sdk.Main(Main) }

var (
	once   sync.Once
	state  *sdk.State
	medium *pmemtest.FaultMedium
	err0   error
)

// open maps the inherited region through a FaultMedium.
func open() (*sdk.State, *pmemtest.FaultMedium, error) {
	once.Do(func() {
		fd, err := strconv.Atoi(os.Getenv("MARVEL_REGION_FD"))
		if err != nil {
			err0 = fmt.Errorf("faulty: MARVEL_REGION_FD: %w", err)
			return
		}
		r, err := pmem.OpenRegionFile(os.NewFile(uintptr(fd), "region"), pmem.RegionOptions{Mode: pmem.ModeEmulated})
		if err != nil {
			err0 = fmt.Errorf("faulty: map the region: %w", err)
			return
		}
		medium = pmemtest.NewFaultMedium(r)
		store, err := pmem.Recover(medium, pmem.Options{})
		if err != nil {
			err0 = fmt.Errorf("faulty: recover the region: %w", err)
			return
		}
		state, err0 = sdk.NewState(store, os.Getenv("MARVEL_REGION"), 1<<20)
	})
	return state, medium, err0
}

// Main runs the operation args["op"].
func Main(args map[string]any) (map[string]any, error) {
	st, m, err := open()
	if err != nil {
		return nil, err
	}
	key, _ := args["key"].(string)
	out := map[string]any{"pid": os.Getpid()}
	switch op, _ := args["op"].(string); op {
	case "put":
		v, _ := args["value"].(string)
		if err := st.Put(key, []byte(v)); err != nil {
			return nil, err
		}
		out["ok"] = true
	case "get":
		v, err := st.Get(key)
		if err != nil {
			return nil, err
		}
		out["value"] = string(v)
	case "fail-fences":
		m.Inject = func(op pmemtest.Op, _ int) error {
			if op == pmemtest.OpFence {
				return fmt.Errorf("msync: %w", syscall.EIO)
			}
			return nil
		}
		out["failing"] = true
	case "heal":
		m.Inject = nil
		out["failing"] = false
	default:
		return nil, fmt.Errorf("faulty: unknown op %q", op)
	}
	return out, nil
}
