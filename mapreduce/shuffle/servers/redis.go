package servers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// RedisBinary is the executable StartRedis runs, looked up in PATH.
const RedisBinary = "redis-server"

// Redis is a redis-server child process listening on 127.0.0.1.
type Redis struct {
	Addr string // 127.0.0.1:PORT
	Dir  string // its working directory and log (redis.log)

	p *process
}

// StartRedis runs the real redis-server (Debian's redis-server package) on
// 127.0.0.1 and a free port, without persistence (--save "" --appendonly
// no) and with dir as its working directory, and returns once it answers
// PING. Values up to shuffle.MaxValueSize are accepted (proto-max-bulk-len
// 1gb). The error wraps ErrNotInstalled, and names the apt-get command, if
// the binary is missing. Close stops it.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	bin, err := exec.LookPath(RedisBinary)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not in PATH (%w): install it with `apt-get install -y redis-server` (Debian/Ubuntu)", ErrNotInstalled, RedisBinary, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("servers: redis directory: %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("servers: redis directory: %w", err)
	}
	for attempt := 1; ; attempt++ {
		r, err := startRedis(ctx, bin, dir)
		if errors.Is(err, errAddrInUse) && attempt < startAttempts {
			continue
		}
		return r, err
	}
}

func startRedis(ctx context.Context, bin, dir string) (*Redis, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "", // stdout, which is the log file
		"--proto-max-bulk-len", "1gb",
		"--client-query-buffer-limit", "2gb",
	}
	p, err := startProcess("redis-server", bin, args, nil, filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, p: p}
	if err := p.waitReady(ctx, r.ping); err != nil {
		if p.addrInUse() {
			return nil, errAddrInUse
		}
		p.stop()
		return nil, err
	}
	return r, nil
}

// ping sends an inline PING and expects +PONG.
func (r *Redis) ping(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Config returns the shuffle configuration of a store in this server.
func (r *Redis) Config() shuffle.Config {
	return shuffle.Config{Kind: shuffle.KindRedis, Addr: r.Addr}
}

// Exited is closed once the server's process has exited (after Close, or
// by itself: a harness can watch it to notice a crashed server).
func (r *Redis) Exited() <-chan struct{} { return r.p.done }

// Close stops the server (SIGTERM, then SIGKILL after 10 s) and waits for
// it. It fails if the server had exited by itself. Closing twice is
// harmless.
func (r *Redis) Close() error { return r.p.stop() }
