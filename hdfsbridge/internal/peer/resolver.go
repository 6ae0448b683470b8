package peer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The isolation users of runtime/proxy (DefaultOptions and isolate.go):
// namespaces get uids from DefaultUIDBase upwards, DefaultUIDCount of them,
// and an action whose namespace is not known yet runs as Nobody.
const (
	DefaultUIDBase  = 200000
	DefaultUIDCount = 100000
	Nobody          = 65534
)

// UIDFileName is the name of the uid file in Marvel's data directory.
const UIDFileName = ".uids"

// maxUIDFileBytes bounds how much of the uid file is read: one line per
// namespace, at most DefaultUIDCount of them, each well under 1 KiB.
const maxUIDFileBytes = 64 << 20

// Options configure a Resolver.
type Options struct {
	// UIDFile is <data>/.uids. A missing file names no namespace (no
	// action has been isolated yet).
	UIDFile string
	// UIDBase and UIDCount are the isolation range (defaults
	// DefaultUIDBase and DefaultUIDCount; zero means the default).
	UIDBase, UIDCount int
	// LocalUID finds the uid of a connection's peer; default LocalUID.
	// Tests replace it.
	LocalUID func(local, remote net.Addr) (uid int, ok bool, err error)
}

// Resolver maps a connection's peer to the user it is bound to.
type Resolver struct {
	opts Options
}

// New returns a Resolver.
func New(o Options) (*Resolver, error) {
	if o.UIDFile == "" {
		return nil, fmt.Errorf("%w: no uid file configured", ErrUIDFile)
	}
	if o.UIDBase == 0 {
		o.UIDBase = DefaultUIDBase
	}
	if o.UIDCount == 0 {
		o.UIDCount = DefaultUIDCount
	}
	if o.UIDBase <= Nobody || o.UIDCount < 0 {
		return nil, fmt.Errorf("peer: isolation range from %d (count %d) must start above %d", o.UIDBase, o.UIDCount, Nobody)
	}
	if o.LocalUID == nil {
		o.LocalUID = LocalUID
	}
	return &Resolver{opts: o}, nil
}

// Peer is what a Resolver knows of a connection's peer.
type Peer struct {
	// Local: the peer is a process of this host; UID owns its socket.
	Local bool
	UID   int
	// User, when set, is the one user the peer may act as: the peer is an
	// isolated action of that namespace.
	User string
}

func (p Peer) String() string {
	switch {
	case p.User != "":
		return fmt.Sprintf("uid %d (an action of namespace %s)", p.UID, p.User)
	case p.Local:
		return fmt.Sprintf("uid %d", p.UID)
	}
	return "a remote client"
}

// Identify finds the peer of a connection with ends local and remote. An
// error means the connection must be refused: a local peer whose socket
// cannot be found, an unbound action (nobody), a uid of the isolation range
// that no namespace was given, or an unreadable uid file.
func (r *Resolver) Identify(local, remote net.Addr) (Peer, error) {
	uid, ok, err := r.opts.LocalUID(local, remote)
	if err != nil {
		return Peer{Local: ok}, err
	}
	if !ok {
		return Peer{}, nil
	}
	p := Peer{Local: true, UID: uid}
	switch {
	case uid == Nobody:
		return p, fmt.Errorf("%w: uid %d", ErrUnboundAction, uid)
	case uid >= r.opts.UIDBase && uid-r.opts.UIDBase < r.opts.UIDCount:
	default:
		return p, nil
	}
	ns, err := namespaceOf(r.opts.UIDFile, uid)
	if err != nil {
		return p, err
	}
	p.User = ns
	return p, nil
}

// Authorize checks a claim of user (and realUser, a proxy user's
// authenticated user, if any) by p: a peer bound to a user may claim only
// that user; any other peer may claim anyone.
func (p Peer) Authorize(user, realUser string) error {
	if p.User == "" {
		return nil
	}
	if user != p.User {
		return fmt.Errorf("%w: the peer, %v, may act only as user %s, not %s", ErrImpersonation, p, p.User, quote(user))
	}
	if realUser != "" && realUser != p.User {
		return fmt.Errorf("%w: the peer, %v, may act only as user %s, not on behalf of %s", ErrImpersonation, p, p.User, quote(realUser))
	}
	return nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// namespaceOf reads the uid file (under a shared lock: the runtime appends
// to it under an exclusive one) and returns the namespace key of uid.
func namespaceOf(file string, uid int) (string, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %d (there is no %s yet)", ErrUnknownUID, uid, file)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUIDFile, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		return "", fmt.Errorf("%w: lock %s: %w", ErrUIDFile, file, err)
	}
	ns, found, err := parseUIDs(io.LimitReader(f, maxUIDFileBytes), uid)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrUIDFile, file, err)
	}
	if !found {
		return "", fmt.Errorf("%w: %d is not in %s", ErrUnknownUID, uid, file)
	}
	return ns, nil
}

// parseUIDs finds uid in lines "<uid> <key>", where key is
// proxy.EscapeName of a namespace. Any damaged line is an error: the file
// is the runtime's, and a guess could bind a peer to the wrong namespace.
func parseUIDs(r io.Reader, uid int) (string, bool, error) {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		uidText, key, ok := strings.Cut(sc.Text(), " ")
		u, err := strconv.Atoi(uidText)
		if !ok || err != nil || !validKey(key) {
			return "", false, fmt.Errorf("line %d is damaged: %q", n, sc.Text())
		}
		if u == uid {
			return key, true, nil
		}
	}
	return "", false, sc.Err()
}

// validKey reports whether key is an output of proxy.EscapeName: letters,
// digits, and '.', '-', '@' (not first), and "=XX" escapes.
func validKey(key string) bool {
	if key == "" || len(key) > 1024 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '-' || c == '@'):
		case c == '=' && i+2 < len(key) && isUpperHex(key[i+1]) && isUpperHex(key[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }
