package shuffle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisStore keeps each value as a Redis string (SET/GET of the raw bytes).
// Put returns when the server acknowledged the SET: the value is in the
// server's memory, durable only as far as the server's persistence settings
// make it.
type redisStore struct {
	addr   string
	c      *redis.Client
	closed atomic.Bool
}

// redisIOTimeout bounds one command's socket reads or writes when the
// context has no deadline: long enough for a 1 GiB value.
const redisIOTimeout = time.Minute

// redisPoolSize is the connection pool's size: enough for many concurrent
// tasks of one process.
func redisPoolSize() int { return max(64, 10*runtime.GOMAXPROCS(0)) }

// quietRedis silences go-redis's process-wide logger, which otherwise
// prints every failed dial to stderr: errors reach the caller instead.
var quietRedis sync.Once

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

func openRedis(ctx context.Context, c Config) (*redisStore, error) {
	quietRedis.Do(func() { redis.SetLogger(discardRedisLog{}) })
	client := redis.NewClient(&redis.Options{
		Addr:                  c.Addr,
		Password:              c.Password,
		Protocol:              2,
		DisableIdentity:       true,
		DialTimeout:           5 * time.Second,
		ReadTimeout:           redisIOTimeout,
		WriteTimeout:          redisIOTimeout,
		ContextTimeoutEnabled: true,
		PoolSize:              redisPoolSize(),
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	if c.Latency > 0 {
		client.AddHook(latencyHook(c.Latency))
	}
	s := &redisStore{addr: c.Addr, c: client}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("shuffle: open redis store: %w", s.annotate("ping", "", err))
	}
	return s, nil
}

func (s *redisStore) Kind() string { return KindRedis }

// annotate says where err happened and, when it can tell, what to do.
func (s *redisStore) annotate(op, key string, err error) error {
	what := op
	if key != "" {
		what = fmt.Sprintf("%s %q", op, key)
	}
	return fmt.Errorf("shuffle: redis at %s: %s: %w%s", s.addr, what, err, redisHint(err))
}

func redisHint(err error) string {
	var op *net.OpError
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial":
		return ": is redis-server running at that address? (the bench harness starts one: servers.StartRedis)"
	case strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "invalid password"):
		return ": set the config's password to the server's requirepass"
	case strings.Contains(msg, "bulk length") || strings.Contains(msg, "query buffer"):
		return ": the value exceeds the server's limits; raise proto-max-bulk-len and client-query-buffer-limit (servers.StartRedis sets them for 1 GiB values)"
	case strings.HasPrefix(msg, "OOM"):
		return ": the server reached maxmemory; delete finished jobs' prefixes or raise maxmemory"
	}
	return ""
}

func (s *redisStore) begin(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: redis at %s: %s %q", ErrClosed, s.addr, op, key)
	}
	if err := ctx.Err(); err != nil {
		return s.annotate(op, key, err)
	}
	return nil
}

func (s *redisStore) Put(ctx context.Context, key string, data []byte) error {
	if err := checkPut(key, data); err != nil {
		return s.annotate("put", key, err)
	}
	if err := s.begin(ctx, "put", key); err != nil {
		return err
	}
	if err := s.c.Set(ctx, key, data, 0).Err(); err != nil {
		return s.annotate("put", key, err)
	}
	return nil
}

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ValidKey(key); err != nil {
		return nil, s.annotate("get", key, err)
	}
	if err := s.begin(ctx, "get", key); err != nil {
		return nil, err
	}
	b, err := s.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: redis at %s: key %q", ErrNotFound, s.addr, key)
	}
	if err != nil {
		return nil, s.annotate("get", key, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func (s *redisStore) View(ctx context.Context, key string, fn func([]byte) error) error {
	b, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	return fn(b)
}

// redisScanCount is the COUNT hint of each SCAN of DeletePrefix.
const redisScanCount = 1000

// DeletePrefix walks the keyspace with SCAN MATCH prefix* and UNLINKs each
// batch. Keys never hold the glob characters * ? [ ] \, so the prefix needs
// no escaping.
func (s *redisStore) DeletePrefix(ctx context.Context, prefix string) error {
	if err := validPrefix(prefix); err != nil {
		return s.annotate("delete prefix", prefix, err)
	}
	if err := s.begin(ctx, "delete prefix", prefix); err != nil {
		return err
	}
	var cursor uint64
	for {
		keys, next, err := s.c.Scan(ctx, cursor, prefix+"*", redisScanCount).Result()
		if err != nil {
			return s.annotate("delete prefix", prefix, err)
		}
		if len(keys) > 0 {
			if err := s.c.Unlink(ctx, keys...).Err(); err != nil {
				return s.annotate("delete prefix", prefix, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func (s *redisStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("shuffle: redis at %s: close: %w", s.addr, err)
	}
	return nil
}

// latencyHook sleeps before every command or pipeline sent to the server.
type latencyHook time.Duration

func (h latencyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h latencyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := sleep(ctx, time.Duration(h)); err != nil {
			return err
		}
		return next(ctx, cmd)
	}
}

func (h latencyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := sleep(ctx, time.Duration(h)); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}
