package servers

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The MinIO server StartS3 builds when it finds none: a pinned pseudo-version
// of github.com/minio/minio (the project publishes no semver tags), built
// with the local Go toolchain from the Go module proxy.
const (
	MinIOModule  = "github.com/minio/minio"
	MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"
)

// minioName is the executable's name in a binary directory.
const minioName = "minio"

// minioBuildTimeout bounds one build of MinIO. On two loaded cores with
// empty module and build caches it took 9 min 23 s (7 min of CPU); with both
// caches warm, 25 s (the link).
const minioBuildTimeout = 20 * time.Minute

// FindMinIO returns the minio executable StartS3 would run without building:
// opts.Binary, else minio in opts.BinDir, else minio in PATH.
func FindMinIO(opts S3Options) (string, bool) {
	if opts.Binary != "" {
		return opts.Binary, isExecutable(opts.Binary)
	}
	if opts.BinDir != "" {
		if p := filepath.Join(opts.BinDir, minioName); isExecutable(p) {
			return p, true
		}
	}
	if p, err := exec.LookPath(minioName); err == nil {
		return p, true
	}
	return "", false
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// MinIOInstallCommand is the shell command that builds MinIO into dir as
// BuildMinIO does.
func MinIOInstallCommand(dir string) string {
	return fmt.Sprintf("GOBIN=%s GOFLAGS=-mod=mod go install %s@%s", dir, MinIOModule, MinIOVersion)
}

// BuildMinIO builds MinIOModule@MinIOVersion into dir/minio with the go
// command (several minutes) and returns its path. Concurrent builders, in
// this process or others, wait for one another (a lock file in dir), and the
// binary appears under its name only when complete. If dir/minio exists
// already it is returned without building.
func BuildMinIO(ctx context.Context, dir string, lg *slog.Logger) (string, error) {
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	final := filepath.Join(dir, minioName)
	if isExecutable(final) {
		return final, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: minio is not in %s and the go command that would build it is not in PATH: install Go, or build minio elsewhere with `%s` and set MARVEL_MINIO to that directory",
			ErrNotInstalled, dir, MinIOInstallCommand(dir))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("servers: build minio: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, ".build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isExecutable(final) { // built by whoever held the lock
		return final, nil
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", fmt.Errorf("servers: build minio: %w", err)
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithTimeout(ctx, minioBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "install", MinIOModule+"@"+MinIOVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { killGroup(cmd.Process.Pid); return nil }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	lg.Info("building minio", "module", MinIOModule, "version", MinIOVersion, "dir", dir)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return "", fmt.Errorf("servers: build minio with `%s` failed after %v: %w\n%s",
			MinIOInstallCommand(dir), time.Since(start).Round(time.Second), err, tail(out.String(), 30))
	}
	if err := os.Rename(filepath.Join(tmp, minioName), final); err != nil {
		return "", fmt.Errorf("servers: build minio: %w", err)
	}
	lg.Info("minio built", "path", final, "took", time.Since(start).Round(time.Second))
	return final, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
