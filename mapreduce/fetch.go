package mapreduce

import (
	"context"
	"errors"
	"sync"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// views holds a reduce task's inputs open through Store.View, so that the
// reducer decodes them where the store keeps them (the PMEM store's
// mapping of each partition file) instead of a copy. Each input's View runs
// in a goroutine that parks inside its callback until release; a store that
// cannot lend its bytes (disk, redis, s3) reads them and parks the same
// way, so every store is fetched by the same code, with the same
// parallelism.
type views struct {
	inputs  [][]byte // by key; valid until release
	errs    []error  // by key: the View's error, or nil
	first   error    // the first error that is not shuffle.ErrNotFound
	release func()   // ends every View and waits for them
}

// viewAll views every key of keys, at most par fetches in flight (a fetch
// stops counting once its bytes are in hand), and returns once each key is
// in hand or failed. After an error other than shuffle.ErrNotFound the
// fetches not yet started are skipped (their error is the context's) and
// the others see ctx done. The caller must call release, after which no
// input may be touched.
func viewAll(ctx context.Context, store shuffle.Store, keys []string, par int) *views {
	n := len(keys)
	v := &views{inputs: make([][]byte, n), errs: make([]error, n)}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}) // closed by release
	ready := make(chan struct{}, n)
	sem := make(chan struct{}, par)
	var mu sync.Mutex // guards v.first until every fetch is ready
	fail := func(err error) {
		if err != nil && !errors.Is(err, shuffle.ErrNotFound) {
			mu.Lock()
			if v.first == nil {
				v.first = err
			}
			mu.Unlock()
			cancel()
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			v.errs[i] = ctx.Err()
			ready <- struct{}{}
			continue
		}
		wg.Go(func() {
			lent := false
			err := store.View(ctx, keys[i], func(b []byte) error {
				lent = true
				v.inputs[i] = b
				<-sem
				ready <- struct{}{}
				<-done // the reducer reads b until release
				return nil
			})
			if lent {
				return // the bytes were in hand: a later error (unmapping) does not matter
			}
			v.errs[i] = err
			fail(err)
			<-sem
			ready <- struct{}{}
		})
	}
	for range n {
		<-ready
	}
	if v.first == nil {
		// The parent context ended while fetches were being skipped.
		for _, err := range v.errs {
			if err != nil && !errors.Is(err, shuffle.ErrNotFound) {
				v.first = err
				break
			}
		}
	}
	var once sync.Once
	v.release = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			cancel()
		})
	}
	return v
}
