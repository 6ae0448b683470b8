package peer

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/proxy"
)

// TestSameMappingAsTheRuntime: the range and the keys are the runtime's
// (runtime/proxy), which this package reads but does not import.
func TestSameMappingAsTheRuntime(t *testing.T) {
	d := proxy.DefaultOptions()
	require.Equal(t, d.UIDBase, DefaultUIDBase)
	require.Equal(t, d.UIDCount, DefaultUIDCount)
	for _, ns := range []string{"guest", "other", "a.b-c@d", "with space", "_under", ".dot", "@at", "ümlaut", "x=y", "UPPER", "9lives", strings.Repeat("n", 256)} {
		key := proxy.EscapeName(ns)
		require.True(t, validKey(key), "%q escapes to %q", ns, key)
	}
	for _, bad := range []string{"", ".", "..", "a b", "a/b", "=2", "=2f", "@x", "-x", "a\x00"} {
		require.False(t, validKey(bad), "%q", bad)
	}
}

func TestParseUIDs(t *testing.T) {
	const file = "200000 guest\n200001 other\n200002 with=20space\n"
	for _, c := range []struct {
		uid   int
		key   string
		found bool
	}{{200000, "guest", true}, {200001, "other", true}, {200002, "with=20space", true}, {200003, "", false}} {
		key, found, err := parseUIDs(strings.NewReader(file), c.uid)
		require.NoError(t, err)
		require.Equal(t, c.found, found, c.uid)
		require.Equal(t, c.key, key, c.uid)
	}
	for _, bad := range []string{"200000\n", "x guest\n", "200000 \n", "200000 ../x\n", "200000 a b\n", " 200000 guest\n"} {
		_, _, err := parseUIDs(strings.NewReader(bad+"200001 other\n"), 200001)
		require.Error(t, err, "%q", bad)
	}
}

// fixed is a LocalUID that answers uid for every peer on loopback.
func fixed(uid int, err error) func(local, remote net.Addr) (int, bool, error) {
	return func(_, remote net.Addr) (int, bool, error) {
		if !remote.(*net.TCPAddr).IP.IsLoopback() {
			return 0, false, nil
		}
		return uid, true, err
	}
}

func TestIdentify(t *testing.T) {
	dir := t.TempDir()
	uids := filepath.Join(dir, UIDFileName)
	require.NoError(t, os.WriteFile(uids, []byte("200000 guest\n200001 other\n"), 0o600))
	local := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8020}
	loop := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 40000}
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 40000}
	notFound := errors.New("gone")
	for _, c := range []struct {
		name    string
		lookup  func(local, remote net.Addr) (int, bool, error)
		remote  net.Addr
		want    Peer
		wantErr error
	}{
		{"another host", fixed(0, nil), remote, Peer{}, nil},
		{"root", fixed(0, nil), loop, Peer{Local: true, UID: 0}, nil},
		{"the operator", fixed(1000, nil), loop, Peer{Local: true, UID: 1000}, nil},
		{"guest's action", fixed(200000, nil), loop, Peer{Local: true, UID: 200000, User: "guest"}, nil},
		{"other's action", fixed(200001, nil), loop, Peer{Local: true, UID: 200001, User: "other"}, nil},
		{"an isolation uid of no namespace", fixed(200002, nil), loop, Peer{Local: true, UID: 200002}, ErrUnknownUID},
		{"the last isolation uid", fixed(299999, nil), loop, Peer{Local: true, UID: 299999}, ErrUnknownUID},
		{"past the range", fixed(300000, nil), loop, Peer{Local: true, UID: 300000}, nil},
		{"nobody", fixed(Nobody, nil), loop, Peer{Local: true, UID: Nobody}, ErrUnboundAction},
		{"socket not found", fixed(0, notFound), loop, Peer{Local: true}, notFound},
	} {
		r, err := New(Options{UIDFile: uids, LocalUID: c.lookup})
		require.NoError(t, err)
		got, err := r.Identify(local, c.remote)
		if c.wantErr != nil {
			require.ErrorIs(t, err, c.wantErr, c.name)
		} else {
			require.NoError(t, err, c.name)
		}
		require.Equal(t, c.want, got, c.name)
	}

	// No uid file yet: no namespace is known, isolated peers are refused.
	r, err := New(Options{UIDFile: filepath.Join(dir, "missing"), LocalUID: fixed(200000, nil)})
	require.NoError(t, err)
	_, err = r.Identify(local, loop)
	require.ErrorIs(t, err, ErrUnknownUID)
	// A damaged file refuses them too.
	require.NoError(t, os.WriteFile(uids, []byte("200000 guest\ngarbage\n"), 0o600))
	r, err = New(Options{UIDFile: uids, LocalUID: fixed(200001, nil)})
	require.NoError(t, err)
	_, err = r.Identify(local, loop)
	require.ErrorIs(t, err, ErrUIDFile)

	_, err = New(Options{})
	require.ErrorIs(t, err, ErrUIDFile)
	_, err = New(Options{UIDFile: uids, UIDBase: 1000})
	require.Error(t, err)
}

func TestAuthorize(t *testing.T) {
	bound := Peer{Local: true, UID: 200001, User: "other"}
	for _, c := range []struct {
		peer           Peer
		user, realUser string
		ok             bool
	}{
		{Peer{}, "root", "", true},
		{Peer{Local: true, UID: 0}, "guest", "root", true},
		{bound, "other", "", true},
		{bound, "other", "other", true},
		{bound, "root", "", false},
		{bound, "guest", "", false},
		{bound, "guest", "other", false}, // other as a proxy user acting for guest
		{bound, "other", "root", false},
		{bound, "", "", false},
	} {
		err := c.peer.Authorize(c.user, c.realUser)
		if c.ok {
			require.NoError(t, err, "%v as %q/%q", c.peer, c.user, c.realUser)
		} else {
			require.ErrorIs(t, err, ErrImpersonation, "%v as %q/%q", c.peer, c.user, c.realUser)
			require.Contains(t, err.Error(), "may act only as user other")
		}
	}
}
