package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Isolation runs each action process as a user of its own namespace, so
// that an action can reach its state only through the descriptor the
// runtime hands it, and no other namespace's regions or files at all:
//
//   - the namespace directory and its fs/ are root's, mode 0711 (enter, but
//     not list); region files are root's, mode 0600;
//   - fs/<namespace>/ belongs to the namespace's user, mode 0700;
//   - the action runs as that user with no supplementary groups (an action
//     whose identity is not known yet runs as nobody until it is);
//   - users are given out from UIDBase upwards, one per namespace, recorded
//     in <data>/.uids (under an flock, so runtimes sharing the directory
//     agree).
//
// It needs the runtime to run as root.

// nobody is the user of an action not yet bound to a namespace.
const nobody = 65534

// uidFile records which user each namespace was given.
const uidFile = ".uids"

// namespaceUID returns the user of namespace, allocating the next free one
// from base if the namespace has none yet.
func namespaceUID(data, namespace string, base, count int) (int, error) {
	f, err := os.OpenFile(filepath.Join(data, uidFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("namespace users: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return 0, fmt.Errorf("namespace users: lock %s: %w", f.Name(), err)
	}
	key := EscapeName(namespace)
	next := base
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		uidText, ns, ok := strings.Cut(sc.Text(), " ")
		uid, err := strconv.Atoi(uidText)
		if !ok || err != nil {
			return 0, fmt.Errorf("namespace users: %s has a damaged line %q; fix or remove it (every namespace then gets a new user)", f.Name(), sc.Text())
		}
		if ns == key {
			return uid, nil
		}
		next = max(next, uid+1)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("namespace users: read %s: %w", f.Name(), err)
	}
	if next >= base+count {
		return 0, fmt.Errorf("namespace users: all %d users from %d are given out; raise the range", count, base)
	}
	if _, err := fmt.Fprintf(f, "%d %s\n", next, key); err != nil {
		return 0, fmt.Errorf("namespace users: record %s: %w", namespace, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("namespace users: %w", err)
	}
	return next, nil
}

// isolateNamespace prepares the directories of the identity's namespace for
// its user and returns the credential its action runs with.
func isolateNamespace(o *Options, id Identity) (*syscall.Credential, error) {
	uid, err := namespaceUID(o.Data, id.Namespace, o.UIDBase, o.UIDCount)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{o.Data, filepath.Join(o.Data, "fs")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return nil, err
		}
	}
	files := id.FilesDir(o.Data)
	if err := os.MkdirAll(files, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(files, uid, uid); err != nil {
		return nil, fmt.Errorf("give %s to the namespace's user %d: %w", files, uid, err)
	}
	if err := os.Chmod(files, 0o700); err != nil {
		return nil, err
	}
	return credential(uid), nil
}

func credential(uid int) *syscall.Credential {
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}
}

// checkIsolation reports why isolation cannot work here.
func checkIsolation() error {
	if os.Geteuid() != 0 {
		return errors.New("proxy: isolating actions needs the runtime to run as root (it starts them as other users)")
	}
	return nil
}
