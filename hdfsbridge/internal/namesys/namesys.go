package namesys

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults of Config.
const (
	DefaultBlockSize  = 128 << 20
	MinBlockSize      = 512
	DefaultSoftLimit  = 60 * time.Second
	DefaultHardLimit  = 20 * time.Minute
	DefaultListLimit  = 1000
	DefaultSupergroup = "supergroup"
)

// Config describes a namespace.
type Config struct {
	// Root is the directory that is HDFS's "/" (<data>/fs); created if
	// missing.
	Root string
	// Superuser bypasses permission checks; default the user running the
	// bridge, as the NameNode's process owner is HDFS's superuser.
	Superuser string
	// Supergroup's members are superusers too; default "supergroup".
	Supergroup string
	// DefaultGroup is the group of inodes without HDFS attributes; default
	// Supergroup.
	DefaultGroup string
	// BlockSize is the block size of files created without one and of files
	// written by actions; default 128 MiB.
	BlockSize int64
	// SoftLimit is how long a lease outlives its holder's last renewal
	// before another client may take the file over; HardLimit, before the
	// bridge closes the file itself. Defaults 60 s and 20 min (HDFS).
	SoftLimit, HardLimit time.Duration
	// ListLimit is the page size of listings; default 1000 (dfs.ls.limit).
	ListLimit int
	// Groups returns a user's groups; default the operating system's
	// groups of a local user of that name (as HDFS's shell-based mapping).
	Groups func(user string) []string
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.Root == "" {
		return errors.New("namesys: no root directory configured")
	}
	if c.Superuser == "" {
		if u, err := user.Current(); err == nil {
			c.Superuser = u.Username
		} else {
			c.Superuser = strconv.Itoa(os.Getuid())
		}
	}
	if c.Supergroup == "" {
		c.Supergroup = DefaultSupergroup
	}
	if c.DefaultGroup == "" {
		c.DefaultGroup = c.Supergroup
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.BlockSize < MinBlockSize || c.BlockSize > maxBlockSize {
		return fmt.Errorf("namesys: block size %d is outside [%d, %d]", c.BlockSize, MinBlockSize, int64(maxBlockSize))
	}
	if c.SoftLimit <= 0 {
		c.SoftLimit = DefaultSoftLimit
	}
	if c.HardLimit <= 0 {
		c.HardLimit = DefaultHardLimit
	}
	if c.HardLimit < c.SoftLimit {
		c.HardLimit = c.SoftLimit
	}
	if c.ListLimit <= 0 {
		c.ListLimit = DefaultListLimit
	}
	if c.Groups == nil {
		c.Groups = osGroups
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func osGroups(name string) []string {
	u, err := user.Lookup(name)
	if err != nil {
		return nil
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil
	}
	var out []string
	for _, id := range ids {
		if g, err := user.LookupGroupId(id); err == nil {
			out = append(out, g.Name)
		}
	}
	return out
}

// User is the caller of an operation.
type User struct {
	Name   string
	Groups []string
}

// FS is an open namespace. Its methods are safe for concurrent use: reads run
// in parallel, changes one at a time.
type FS struct {
	cfg      Config
	rootPath string
	rootFd   int // O_PATH descriptor of Root
	trashFd  int // O_RDONLY descriptor of Root/.marvel-trash
	poolID   string

	mu sync.Mutex // serialises changes to the tree
	// mapMu guards the fields below. Changes to the tree hold mu throughout;
	// lookups from readers and the DataNode take only mapMu.
	mapMu  sync.Mutex
	leases map[string]*lease
	open   map[uint64]*openFile // files under construction, by inode number
	paths  map[uint64]string    // last known path of an inode (a hint)
	gsLast uint64
	closed bool

	cacheMu   sync.Mutex
	attrCache map[uint64]cachedAttrs

	stop chan struct{}
	done chan struct{}

	// crash, in tests, is consulted before every change to the tree; an
	// error stops the operation there, as a crash of the process would.
	crash func() error
}

const trashName = reservedPrefix + "trash"

// Open opens (creating Root if needed) and recovers a namespace: it removes
// temporaries left by interrupted creations and empties the trash of an
// interrupted delete. Close it to stop its lease monitor.
func Open(cfg Config) (*FS, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("namesys: root %s: %w", cfg.Root, err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("namesys: create root %s: %w", root, err)
	}
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("namesys: open root %s: %w", root, err)
	}
	fs := &FS{cfg: cfg, rootPath: root, rootFd: rfd, trashFd: -1,
		attrCache: map[uint64]cachedAttrs{}, leases: map[string]*lease{}, open: map[uint64]*openFile{}, paths: map[uint64]string{},
		stop: make(chan struct{}), done: make(chan struct{})}
	var st unix.Stat_t
	if err := unix.Fstat(rfd, &st); err != nil {
		unix.Close(rfd)
		return nil, fmt.Errorf("namesys: stat root %s: %w", root, err)
	}
	if _, _, err := readAttrs(rfd); err != nil {
		unix.Close(rfd)
		return nil, fmt.Errorf("namesys: root %s: %w", root, err)
	}
	// A stable block pool ID: the root's device and inode.
	fs.poolID = fmt.Sprintf("BP-%d-127.0.0.1-%d", st.Dev, st.Ino)
	if err := fs.recover(); err != nil {
		unix.Close(rfd)
		if fs.trashFd >= 0 {
			unix.Close(fs.trashFd)
		}
		return nil, err
	}
	go fs.monitor()
	return fs, nil
}

// recover removes what interrupted changes left behind.
func (fs *FS) recover() error {
	trash := filepath.Join(fs.rootPath, trashName)
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("namesys: empty the trash %s: %w", trash, err)
	}
	if err := os.Mkdir(trash, 0o700); err != nil {
		return fmt.Errorf("namesys: create the trash %s: %w", trash, err)
	}
	fd, err := unix.Open(trash, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("namesys: open the trash %s: %w", trash, err)
	}
	fs.trashFd = fd
	// Temporaries can be anywhere in the tree.
	n := 0
	err = filepath.WalkDir(fs.rootPath, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == fs.rootPath {
				return err
			}
			return nil // an unreadable corner: nothing of ours can be in it
		}
		if d.Name() == trashName && d.IsDir() {
			return filepath.SkipDir
		}
		if p != fs.rootPath && len(d.Name()) > len(tmpPrefix) && d.Name()[:len(tmpPrefix)] == tmpPrefix {
			n++
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("namesys: remove temporaries under %s: %w", fs.rootPath, err)
	}
	if n > 0 {
		fs.cfg.Logger.Info("hdfs namespace recovered", "root", fs.rootPath, "temporaries_removed", n)
	}
	return nil
}

// Close stops the lease monitor. Open files stay as they are; a later Open
// treats their leases as expired.
func (fs *FS) Close() error {
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		return nil
	}
	fs.closed = true
	fs.mu.Unlock()
	close(fs.stop)
	<-fs.done
	fs.mapMu.Lock()
	open := fs.open
	fs.open = map[uint64]*openFile{}
	fs.mapMu.Unlock()
	for _, of := range open {
		of.close()
	}
	unix.Close(fs.trashFd)
	return unix.Close(fs.rootFd)
}

// Root is the directory behind "/".
func (fs *FS) Root() string { return fs.rootPath }

// PoolID is the block pool ID blocks carry.
func (fs *FS) PoolID() string { return fs.poolID }

// Config returns the filled-in configuration.
func (fs *FS) Config() Config { return fs.cfg }

// HostPath is where p lies on the host, for tools and tests.
func (fs *FS) HostPath(p Path) string { return filepath.Join(fs.rootPath, filepath.FromSlash(p.rel())) }

// UserOf returns a User with its groups looked up.
func (fs *FS) UserOf(name string) User {
	return User{Name: name, Groups: fs.cfg.Groups(name)}
}

// IsSuperuser reports whether u bypasses permission checks.
func (fs *FS) IsSuperuser(u User) bool {
	if u.Name == fs.cfg.Superuser {
		return true
	}
	for _, g := range u.Groups {
		if g == fs.cfg.Supergroup {
			return true
		}
	}
	return false
}

// step is called before every change to the tree; in tests it can stop the
// operation as a crash would.
func (fs *FS) step() error {
	if fs.crash != nil {
		return fs.crash()
	}
	return nil
}
