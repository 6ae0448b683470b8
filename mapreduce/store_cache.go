package mapreduce

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// storeCache keeps shuffle stores open between tasks, one per
// configuration (Runner.KeepStores).
type storeCache struct {
	mu     sync.Mutex
	stores map[string]shuffle.Store // guarded by mu; by configKey
}

func configKey(c shuffle.Config) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// open returns the kept store of cfg, opening it with open the first time.
func (c *storeCache) open(ctx context.Context, cfg shuffle.Config, open func(context.Context, shuffle.Config) (shuffle.Store, error)) (shuffle.Store, error) {
	k := configKey(cfg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stores[k]; ok {
		return keptStore{s}, nil
	}
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if c.stores == nil {
		c.stores = make(map[string]shuffle.Store)
	}
	c.stores[k] = s
	return keptStore{s}, nil
}

// evict closes and forgets the store of cfg.
func (c *storeCache) evict(cfg shuffle.Config) {
	k := configKey(cfg)
	c.mu.Lock()
	s, ok := c.stores[k]
	delete(c.stores, k)
	c.mu.Unlock()
	if ok {
		s.Close()
	}
}

// closeAll closes and forgets every store.
func (c *storeCache) closeAll() error {
	c.mu.Lock()
	stores := c.stores
	c.stores = nil
	c.mu.Unlock()
	var errs []error
	for _, s := range stores {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// keptStore is a kept store whose Close leaves it open for the next task.
type keptStore struct{ shuffle.Store }

func (keptStore) Close() error { return nil }
