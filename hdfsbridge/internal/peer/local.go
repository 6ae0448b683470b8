package peer

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// LocalUID returns the uid that owns the socket at the other end of a TCP
// connection whose own ends are local and remote (an accepted connection's
// LocalAddr and RemoteAddr).
//
// ok reports whether that other end is a process of this host: remote is a
// loopback address, local's own address, or an address of one of this
// host's interfaces. When it is not, LocalUID returns (0, false, nil)
// without reading anything. When it is, err is nil and uid is the owner of
// the peer's socket, or err (wrapping ErrNotFound) says the socket could not
// be found: callers that trust the uid must then refuse the connection.
func LocalUID(local, remote net.Addr) (uid int, ok bool, err error) {
	l, err := addrPort(local)
	if err != nil {
		return 0, false, err
	}
	r, err := addrPort(remote)
	if err != nil {
		return 0, false, err
	}
	if !isLocal(l.Addr(), r.Addr()) {
		return 0, false, nil
	}
	uid, err = lookup(procNetTCP, r, l)
	return uid, true, err
}

func addrPort(a net.Addr) (netip.AddrPort, error) {
	t, ok := a.(*net.TCPAddr)
	if !ok || t == nil {
		return netip.AddrPort{}, fmt.Errorf("peer: %v (%T) is not a TCP address", a, a)
	}
	ap := t.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// isLocal reports whether a connection from remote to local comes from this
// host.
func isLocal(local, remote netip.Addr) bool {
	if remote.IsLoopback() || remote == local {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		// Unknown: treat the peer as local, so that LocalUID looks it
		// up and a failure refuses it rather than trusting its claim.
		return true
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == remote {
				return true
			}
		}
	}
	return false
}

// lookup finds, in the socket tables files (the format of /proc/net/tcp and
// /proc/net/tcp6), the live socket whose local end is peer and whose remote
// end is self, and returns its owner. Both ends of a loopback connection
// are listed: the one wanted is the peer's, not the bridge's own. Entries
// without an inode (TIME_WAIT, or a socket its process has closed) carry
// no owner and are skipped. IPv4 addresses may appear IPv4-mapped in the
// tcp6 table (a dual-stack socket): addresses are compared unmapped.
func lookup(files []string, peer, self netip.AddrPort) (int, error) {
	var errs []error
	read := 0
	for _, name := range files {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		read++
		uid, found, err := scanTable(f, peer, self)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if found {
			return uid, nil
		}
	}
	if read == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("none of %s exists", strings.Join(files, ", ")))
	}
	if len(errs) > 0 {
		return 0, fmt.Errorf("%w: %s to %s: %w", ErrNotFound, peer, self, errors.Join(errs...))
	}
	return 0, fmt.Errorf("%w: no live socket %s connected to %s", ErrNotFound, peer, self)
}

// scanTable scans one socket table.
func scanTable(r io.Reader, peer, self netip.AddrPort) (uid int, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 4096)
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		// sl local rem st queues tr:when retrnsmt uid timeout inode ...
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			return 0, false, fmt.Errorf("a line of %d fields: %q", len(f), sc.Text())
		}
		l, err := parseHexAddrPort(f[1])
		if err != nil {
			return 0, false, err
		}
		if l != peer {
			continue
		}
		rem, err := parseHexAddrPort(f[2])
		if err != nil {
			return 0, false, err
		}
		if rem != self || f[9] == "0" {
			continue
		}
		uid, err := strconv.ParseUint(f[7], 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("uid %q: %w", f[7], err)
		}
		return int(uid), true, nil
	}
	return 0, false, sc.Err()
}

// parseHexAddrPort parses "0100007F:1F90" (IPv4) or 32 hex digits and a
// port (IPv6): the address is 32-bit words in the kernel's byte order, the
// port big-endian. The result is unmapped.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 || (len(a) != 8 && len(a) != 32) {
		return netip.AddrPort{}, fmt.Errorf("address %q is not hex address:port", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: port: %w", s, err)
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	ip, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}
