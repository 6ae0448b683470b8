package namesys

import (
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// HDFS extended attributes ("user.NAME" or "trusted.NAME") are kept as
// file-system extended attributes "user.marvel.x.<hdfs name>", beside the
// inode's own attribute.
const xattrPrefix = "user.marvel.x."

// Bounds, as HDFS's defaults (dfs.namenode.fs-limits.max-xattr-size, …).
const (
	MaxXAttrSize   = 16384
	MaxXAttrsPerID = 32
)

// XAttr is one HDFS extended attribute, its name with the namespace
// ("user.a").
type XAttr struct {
	Name  string
	Value []byte
}

// XAttr set flags, as XAttrSetFlagProto.
const (
	XAttrCreate  = 1
	XAttrReplace = 2
)

func (fs *FS) xattrName(u User, name string, write bool) (string, error) {
	ns, rest, ok := strings.Cut(name, ".")
	if !ok || rest == "" {
		return "", newErr(ClassIllegalArgument, "An XAttr name must be prefixed with user/trusted/security/system/raw, followed by a '.': %q", name)
	}
	switch strings.ToLower(ns) {
	case "user":
	case "trusted":
		if !fs.IsSuperuser(u) {
			return "", newErr(ClassAccessControl, "User doesn't have permission for xattr: %s", name)
		}
	case "security", "system", "raw":
		return "", newErr(ClassAccessControl, "User doesn't have permission for xattr: %s (the %s namespace is not served by the bridge)", name, ns)
	default:
		return "", newErr(ClassIllegalArgument, "An XAttr name must be prefixed with user/trusted/security/system/raw, followed by a '.': %q", name)
	}
	full := strings.ToLower(ns) + "." + rest
	if len(xattrPrefix)+len(full) > 255 {
		return "", newErr(ClassIllegalArgument, "XAttr name %q is too long", name)
	}
	return xattrPrefix + full, nil
}

// GetXAttrs returns p's attributes named in names (all that u may read when
// names is empty). It needs READ on p. A missing named attribute is an
// IOException, as HDFS.
func (fs *FS) GetXAttrs(u User, p Path, names []string) ([]XAttr, error) {
	w, err := fs.target(u, p)
	if err != nil {
		return nil, err
	}
	defer w.close()
	t := w.target()
	if err := fs.check(u, t, p.String(), accR); err != nil {
		return nil, err
	}
	all := len(names) == 0
	if all {
		names, err = fs.listXAttrNames(u, t)
		if err != nil {
			return nil, ioErr("getXAttrs", p.String(), err)
		}
	}
	var out []XAttr
	buf := make([]byte, MaxXAttrSize)
	for _, name := range names {
		fsName, err := fs.xattrName(u, name, false)
		if err != nil {
			return nil, err
		}
		n, err := unix.Getxattr(procPath(t.fd), fsName, buf)
		if err == unix.ENODATA {
			return nil, newErr(ClassIO, "At least one of the attributes provided was not found: %s", name)
		}
		if err != nil {
			return nil, ioErr("getXAttrs", p.String(), err)
		}
		out = append(out, XAttr{Name: fsName[len(xattrPrefix):], Value: append([]byte(nil), buf[:n]...)})
	}
	return out, nil
}

func (fs *FS) listXAttrNames(u User, t *inode) ([]string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Listxattr(procPath(t.fd), buf)
	if err == unix.ENOTSUP {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if !strings.HasPrefix(name, xattrPrefix) {
			continue
		}
		h := name[len(xattrPrefix):]
		if strings.HasPrefix(h, "trusted.") && !fs.IsSuperuser(u) {
			continue
		}
		out = append(out, h)
	}
	sort.Strings(out)
	return out, nil
}

// ListXAttrs names p's attributes u may see. It needs READ on p.
func (fs *FS) ListXAttrs(u User, p Path) ([]string, error) {
	w, err := fs.target(u, p)
	if err != nil {
		return nil, err
	}
	defer w.close()
	t := w.target()
	if err := fs.check(u, t, p.String(), accR); err != nil {
		return nil, err
	}
	names, err := fs.listXAttrNames(u, t)
	if err != nil {
		return nil, ioErr("listXAttrs", p.String(), err)
	}
	return names, nil
}

// SetXAttr sets one attribute; flag is XAttrCreate and/or XAttrReplace
// (0 means both). It needs WRITE on p.
func (fs *FS) SetXAttr(u User, p Path, x XAttr, flag uint32) error {
	fsName, err := fs.xattrName(u, x.Name, true)
	if err != nil {
		return err
	}
	if len(x.Value) > MaxXAttrSize {
		return newErr(ClassIllegalArgument, "The XAttr is too big. The maximum combined size of the name and value is %d, but the total size is %d", MaxXAttrSize, len(x.Value))
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return err
	}
	defer w.close()
	t := w.target()
	if err := fs.check(u, t, p.String(), accW); err != nil {
		return err
	}
	if flag == 0 {
		flag = XAttrCreate | XAttrReplace
	}
	var xf int
	switch flag {
	case XAttrCreate:
		xf = unix.XATTR_CREATE
	case XAttrReplace:
		xf = unix.XATTR_REPLACE
	}
	names, _ := fs.listXAttrNames(User{Name: fs.cfg.Superuser}, t)
	if len(names) >= MaxXAttrsPerID && flag&XAttrCreate != 0 && !contains(names, fsName[len(xattrPrefix):]) {
		return newErr(ClassIO, "Cannot add additional XAttr to inode %s, would exceed limit of %d", p, MaxXAttrsPerID)
	}
	err = fs.syncStep(func() error { return unix.Setxattr(procPath(t.fd), fsName, x.Value, xf) })
	switch {
	case err == unix.EEXIST:
		return newErr(ClassIO, "XAttr: %s already exists. The REPLACE flag must be specified.", x.Name)
	case err == unix.ENODATA:
		return newErr(ClassIO, "XAttr: %s does not exist. The CREATE flag must be specified.", x.Name)
	case err != nil:
		return ioErr("setXAttr", p.String(), err)
	}
	if err := fs.syncStep(func() error { return fsyncFd(t.fd) }); err != nil {
		return ioErr("setXAttr", p.String(), err)
	}
	return nil
}

// RemoveXAttr removes one attribute; it needs WRITE on p.
func (fs *FS) RemoveXAttr(u User, p Path, name string) error {
	fsName, err := fs.xattrName(u, name, true)
	if err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, err := fs.target(u, p)
	if err != nil {
		return err
	}
	defer w.close()
	t := w.target()
	if err := fs.check(u, t, p.String(), accW); err != nil {
		return err
	}
	err = fs.syncStep(func() error { return unix.Removexattr(procPath(t.fd), fsName) })
	if err == unix.ENODATA {
		return newErr(ClassIO, "No matching attributes found for remove operation: %s", name)
	}
	if err != nil {
		return ioErr("removeXAttr", p.String(), err)
	}
	if err := fs.syncStep(func() error { return fsyncFd(t.fd) }); err != nil {
		return ioErr("removeXAttr", p.String(), err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
