package peer

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/marvel-serverless/marvel/internal/testbin"
	"github.com/stretchr/testify/require"
)

// helperEnv makes the test binary, run as a child, dial the address in it,
// print its end's address, and hold the connection until stdin closes.
const helperEnv = "MARVEL_PEER_TEST_DIAL"

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperEnv); addr != "" {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(2)
		}
		fmt.Println(c.LocalAddr())
		bufio.NewReader(os.Stdin).ReadString('\n')
		c.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseHexAddrPort(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:0000", "0.0.0.0:0"},
		{"0101A8C0:FFFF", "192.168.1.1:65535"},
		{"00000000000000000000000001000000:0050", "[::1]:80"},
		{"0000000000000000FFFF00000100007F:2000", "127.0.0.1:8192"}, // IPv4-mapped: unmapped
		{"B80D0120000000000000000001000000:01BB", "[2001:db8::1]:443"},
	} {
		got, err := parseHexAddrPort(c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, netip.MustParseAddrPort(c.want), got, c.in)
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "0100007F:1F9", "0100007G:1F90", "01007F:1F90", "0100007F:1F90:1", "0100007F:XXXX"} {
		_, err := parseHexAddrPort(bad)
		require.Error(t, err, "%q", bad)
	}
}

// TestScanTable: of a loopback connection both ends are listed; the one
// whose local end is the peer's is taken, entries without an inode
// (TIME_WAIT, closed) are skipped, and IPv4-mapped entries match.
func TestScanTable(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	line := func(local, rem string, uid, inode int) string {
		return fmt.Sprintf("   0: %s %s 01 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 20 4 30 10 -1\n", local, rem, uid, inode)
	}
	self := netip.MustParseAddrPort("127.0.0.1:8020")
	peer := netip.MustParseAddrPort("127.0.0.1:40000")
	const (
		selfHex = "0100007F:1F54"
		peerHex = "0100007F:9C40"
	)
	for _, c := range []struct {
		name  string
		table string
		uid   int
		found bool
	}{
		{"listener and the server's end only", line(selfHex, "00000000:0000", 0, 10) + line(selfHex, peerHex, 0, 11), 0, false},
		{"both ends", line(selfHex, peerHex, 0, 11) + line(peerHex, selfHex, 200001, 12), 200001, true},
		{"the peer's end first", line(peerHex, selfHex, 1000, 12) + line(selfHex, peerHex, 0, 11), 1000, true},
		{"time-wait, no inode", line(peerHex, selfHex, 0, 0), 0, false},
		{"another port", line("0100007F:9C41", selfHex, 5, 13), 0, false},
		{"IPv4-mapped in tcp6", line("0000000000000000FFFF00000100007F:9C40", "0000000000000000FFFF00000100007F:1F54", 4242, 14), 4242, true},
	} {
		uid, found, err := scanTable(strings.NewReader(header+c.table), peer, self)
		require.NoError(t, err, c.name)
		require.Equal(t, c.found, found, c.name)
		require.Equal(t, c.uid, uid, c.name)
	}
	_, _, err := scanTable(strings.NewReader(header+"   0: 0100007F:9C40 0100007F:1F54 01\n"), peer, self)
	require.Error(t, err, "a short line")
	_, _, err = scanTable(strings.NewReader(header+line(peerHex, selfHex, 0, 1)[:0]+"   0: 0100007F:9C40 0100007F:1F54 01 0:0 0:0 0 x 0 7 1\n"), peer, self)
	require.Error(t, err, "a uid that is no number")
}

// pair is an accepted loopback connection and its client.
func pair(t *testing.T, network, listen, dial string) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, listen)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, listen, err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	client, err = net.Dial("tcp", net.JoinHostPort(dial, port))
	require.NoError(t, err)
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestLocalUIDLoopback: real loopback connections within this process, over
// IPv4, IPv6 and a dual-stack listener (the client's end then sits in
// /proc/net/tcp, the server's in tcp6 as IPv4-mapped): the peer's uid is
// ours, from either end.
func TestLocalUIDLoopback(t *testing.T) {
	for _, c := range []struct{ name, network, listen, dial string }{
		{"ipv4", "tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"ipv6", "tcp6", "[::1]:0", "::1"},
		{"dual stack, ipv4 client", "tcp", "[::]:0", "127.0.0.1"},
		{"dual stack, ipv6 client", "tcp", "[::]:0", "::1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, cl := pair(t, c.network, c.listen, c.dial)
			uid, ok, err := LocalUID(s.LocalAddr(), s.RemoteAddr())
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, os.Geteuid(), uid)
			uid, ok, err = LocalUID(cl.LocalAddr(), cl.RemoteAddr())
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, os.Geteuid(), uid)
		})
	}
}

// TestLocalUIDClosedPeer: once the client has closed its socket, its entry
// has no owner left; the lookup fails rather than guess.
func TestLocalUIDClosedPeer(t *testing.T) {
	s, cl := pair(t, "tcp4", "127.0.0.1:0", "127.0.0.1")
	require.NoError(t, cl.Close())
	_, ok, err := LocalUID(s.LocalAddr(), s.RemoteAddr())
	require.True(t, ok)
	require.ErrorIs(t, err, ErrNotFound)
}

// TestLocalUIDRemote: a peer of another host is not looked up.
func TestLocalUIDRemote(t *testing.T) {
	local := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8020}
	for _, remote := range []string{"192.0.2.7", "2001:db8::7", "::ffff:198.51.100.1"} {
		uid, ok, err := LocalUID(local, &net.TCPAddr{IP: net.ParseIP(remote), Port: 5000})
		require.NoError(t, err, remote)
		require.False(t, ok, remote)
		require.Zero(t, uid, remote)
	}
	_, _, err := LocalUID(&net.UnixAddr{Name: "/x", Net: "unix"}, local)
	require.Error(t, err)
	// A remote of local's own address is this host: looked up, not found.
	_, ok, err := LocalUID(&net.TCPAddr{IP: net.ParseIP("192.0.2.8"), Port: 8020}, &net.TCPAddr{IP: net.ParseIP("192.0.2.8"), Port: 5000})
	require.True(t, ok)
	require.ErrorIs(t, err, ErrNotFound)
}

// TestLocalUIDOtherUser: a connection a child process makes while running
// as another uid is that uid's (root only: it takes setuid).
func TestLocalUIDOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	const uid = 54321
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cmd := exec.Command(testbin.WorldExecutable(t, "peer.test"), "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+ln.Addr().String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { stdin.Close(); cmd.Wait() }()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, s.RemoteAddr().String(), strings.TrimSpace(line))
	got, ok, err := LocalUID(s.LocalAddr(), s.RemoteAddr())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, uid, got)
	require.False(t, errors.Is(err, ErrNotFound))
}
