package shuffle

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Store holds the partitions map tasks write and reduce tasks read. Every
// method is safe for concurrent use.
type Store interface {
	// Kind returns the store's kind (KindPMEM, ...).
	Kind() string
	// Put stores data under key, replacing any; when Put returns the data
	// is durable as the store promises (pmem/disk: fsynced/flushed; redis:
	// acknowledged; s3: acknowledged by the server).
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the data of key; ErrNotFound (wrapped) if absent.
	Get(ctx context.Context, key string) ([]byte, error)
	// View calls fn with the data of key without copying when the store
	// can (pmem: the mapping of the file, valid only during fn); others
	// read and call fn. fn must not modify the slice. View returns fn's
	// error as is.
	View(ctx context.Context, key string, fn func([]byte) error) error
	// DeletePrefix removes every key starting with prefix (a job's
	// cleanup). The prefix is a key, or a key and a trailing "/"; the empty
	// prefix is refused.
	DeletePrefix(ctx context.Context, prefix string) error
	// Close releases the store's connections; later calls fail with
	// ErrClosed. Closing twice is harmless.
	Close() error
}

// Open validates c and opens its store. Remote stores are contacted (and an
// S3 bucket created if missing) before Open returns, so a wrong address or
// credentials fail here, not in the first task.
func Open(ctx context.Context, c Config) (Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("shuffle: open %s store: %w", c.Kind, err)
	}
	switch c.Kind {
	case KindPMEM:
		return openPMEM(c)
	case KindDisk:
		return openDisk(c)
	case KindRedis:
		return openRedis(ctx, c)
	case KindS3:
		return openS3(ctx, c)
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalidConfig, c.Kind)
}

// Locator is implemented by the file-backed stores (pmem, disk): Path
// returns the file that holds (or would hold) key, so that a co-located
// reader, or the HDFS bridge, can reach it without the store.
type Locator interface {
	Path(key string) (string, error)
}

// checkPut checks the arguments of a Put.
func checkPut(key string, data []byte) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if len(data) > MaxValueSize {
		return fmt.Errorf("%w: key %q: %d bytes (at most %d); split the partition", ErrTooLarge, key, len(data), MaxValueSize)
	}
	return nil
}

// writeChunk is how many bytes a file store writes between checks of its
// context, so that cancelling a large Put stops it promptly.
const writeChunk = 16 << 20

// writeAll writes data to w in chunks, stopping when ctx is done.
func writeAll(ctx context.Context, w io.Writer, data []byte) error {
	for len(data) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(data), writeChunk)
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return ctx.Err()
}

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
