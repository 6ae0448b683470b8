package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/pmem"
)

// Identity is what a runtime's state belongs to: an action, as invoked from a
// namespace. OpenWhisk never shares a container between two invoking
// namespaces, and neither do regions: namespace A invoking B's shared action
// gets a region of its own, distinct from B's.
type Identity struct {
	// Namespace is the invoking namespace (the activation's "namespace"),
	// whose files the action reads and writes.
	Namespace string
	// Action is the action's fully qualified name, "/ns/pkg/action" or
	// "/ns/action" (the activation's "action_name").
	Action string
}

// NewIdentity checks the platform's names for an activation and returns
// its identity. Components must be non-empty and hold no control
// characters; the action name has two or three of them.
func NewIdentity(namespace, action string) (Identity, error) {
	if !validComponent(namespace) {
		return Identity{}, fmt.Errorf("namespace %q is empty or invalid", namespace)
	}
	parts := strings.Split(strings.TrimPrefix(action, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Identity{}, fmt.Errorf("action name %q is not /namespace/[package/]action", action)
	}
	for _, p := range parts {
		if !validComponent(p) {
			return Identity{}, fmt.Errorf("action name %q has an empty or invalid component", action)
		}
	}
	return Identity{Namespace: namespace, Action: "/" + strings.Join(parts, "/")}, nil
}

func validComponent(p string) bool {
	return p != "" && p != "." && p != ".." && len(p) <= 256 &&
		!strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// String names the identity for messages.
func (id Identity) String() string {
	return fmt.Sprintf("%s (invoked from namespace %s)", id.Action, id.Namespace)
}

// RegionName is the region that holds the identity's state. For an action
// invoked from its own namespace it is "fn+" and the components of the
// action's name joined by "+"; invoked from another namespace N, "fx+N+"
// and the same. Components are escaped so the mapping is one-to-one: two
// identities never share a region. Names too long for a region get a digest
// in place of their tail.
func (id Identity) RegionName() string {
	parts := strings.Split(strings.TrimPrefix(id.Action, "/"), "/")
	prefix := "fn+"
	if parts[0] != id.Namespace {
		prefix = "fx+" + EscapeName(id.Namespace) + "+"
	}
	for i, p := range parts {
		parts[i] = EscapeName(p)
	}
	name := prefix + strings.Join(parts, "+")
	if len(name) > pmem.MaxNameLen {
		sum := sha256.Sum256([]byte(id.Namespace + "\x00" + id.Action))
		name = name[:pmem.MaxNameLen-1-2*16] + "=" + hex.EncodeToString(sum[:16])
	}
	return name
}

// FilesDir is the directory of the namespace's named files under data.
func (id Identity) FilesDir(data string) string {
	return filepath.Join(data, "fs", EscapeName(id.Namespace))
}

// EscapeName keeps letters, digits, '.', '-' and '@' (not first) and writes
// every other byte as =XX, so the result is a valid region name fragment and
// a single path component that is never "." or "..". It is one-to-one.
func EscapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || (i > 0 && (c == '.' || c == '-' || c == '@')) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "=%02X", c)
	}
	return b.String()
}

// boundRegion is a function's region held open (and locked) by the proxy for
// the life of the action process that inherits it.
type boundRegion struct {
	id    Identity
	name  string
	file  *os.File // read-write, exclusively locked; nil with Options.NoRegion
	size  int64    // bytes when bound (the action may grow it)
	files string   // the namespace's files directory
}

// close closes the region's file, if it has one.
func (r *boundRegion) close() {
	if r.file != nil {
		r.file.Close()
	}
}

// bindRegion binds the identity's region, waiting up to o.LockWait while
// another runtime holds it (a container of the same action being replaced).
func bindRegion(ctx context.Context, o *Options, id Identity) (*boundRegion, error) {
	deadline := time.Now().Add(o.LockWait)
	for {
		reg, err := bindRegionOnce(o, id)
		if err == nil || !errors.Is(err, pmem.ErrLocked) || !time.Now().Before(deadline) {
			if errors.Is(err, pmem.ErrLocked) {
				err = fmt.Errorf("%w; one runtime at a time holds an action's state: route the action's activations to the container that holds it (OpenWhisk: raise the action's concurrency limit so activations queue in one container)", err)
			}
			return reg, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// bindRegionOnce opens (creating and formatting if needed) the action's
// region, checks that it recovers, and keeps its file locked for the action.
func bindRegionOnce(o *Options, id Identity) (*boundRegion, error) {
	if o.NoRegion {
		files := id.FilesDir(o.Data)
		if err := os.MkdirAll(files, 0o755); err != nil {
			return nil, fmt.Errorf("files directory of namespace %s: %w", id.Namespace, err)
		}
		return &boundRegion{id: id, files: files}, nil
	}
	name := id.RegionName()
	opts := pmem.Options{
		Mode:        o.Mode,
		InitialSize: o.RegionSize,
		MaxSize:     o.RegionMax,
		Owner:       truncate("fn:"+strings.TrimPrefix(id.Action, "/"), 62),
		Logger:      o.Logger,
	}
	if err := os.MkdirAll(o.Data, 0o755); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", o.Data, err)
	}
	s, _, err := pmem.OpenOrCreate(o.Data, name, opts)
	if err != nil {
		return nil, fmt.Errorf("open the state region of %s: %w", id.Action, err)
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("close the state region of %s: %w", id.Action, err)
	}
	path, err := pmem.RegionPath(o.Data, name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open the state region of %s: %w", id.Action, err)
	}
	if err := pmem.LockFile(f); err != nil {
		f.Close()
		if errors.Is(err, pmem.ErrLocked) {
			return nil, fmt.Errorf("the state region of %s is in use by another runtime: %w", id.Action, err)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("the state region of %s: %w", id.Action, err)
	}
	files := id.FilesDir(o.Data)
	if err := os.MkdirAll(files, 0o755); err != nil {
		f.Close()
		return nil, fmt.Errorf("files directory of namespace %s: %w", id.Namespace, err)
	}
	return &boundRegion{id: id, name: name, file: f, size: fi.Size(), files: files}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
