package webhdfs

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPeerUser: a request whose peer is bound to a user is that user's
// without user.name, and is refused (403 AuthorizationException, no body of
// the file) when user.name or doas names anyone else; a refused peer is
// refused whatever it claims; an unbound peer keeps SIMPLE.
func TestPeerUser(t *testing.T) {
	e := newEnv(t, Options{PeerUser: func(r *http.Request) (string, error) {
		switch r.Header.Get("X-Test-Peer") {
		case "":
			return "", nil
		case "refused":
			return "", errors.New("the peer runs as nobody")
		default:
			return r.Header.Get("X-Test-Peer"), nil
		}
	}})
	require.Equal(t, http.StatusCreated, e.do(e.follow, "PUT", e.url("/user/alice/f", "CREATE", "user.name", "alice", "permission", "600"), []byte("alice's")).status)
	as := func(peer, method, u string) reply {
		t.Helper()
		req, err := http.NewRequest(method, u, nil)
		require.NoError(t, err)
		req.Header.Set("X-Test-Peer", peer)
		resp, err := e.nofollow.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b [4096]byte
		n, _ := resp.Body.Read(b[:])
		return reply{status: resp.StatusCode, header: resp.Header, body: b[:n]}
	}
	home := decode(t, e.ok(as("alice", "GET", e.url("/", "GETHOMEDIRECTORY"))).body)
	require.Equal(t, "/user/alice", home["Path"], "no user.name: the bound user")
	e.ok(as("alice", "GET", e.url("/user/alice/f", "GETFILESTATUS", "user.name", "alice")))
	e.ok(as("alice", "GET", e.url("/user/alice/f", "GETFILESTATUS", "user.name", "alice", "doas", "alice")))
	e.ok(as("", "GET", e.url("/user/alice/f", "GETFILESTATUS", "user.name", "root")))

	for _, c := range []struct{ peer, url, msg string }{
		{"bob", e.url("/user/alice/f", "OPEN", "user.name", "root"), "may act only as bob"},
		{"bob", e.url("/user/alice/f", "OPEN", "user.name", "alice"), "may act only as bob"},
		{"bob", e.url("/user/alice/f", "OPEN", "user.name", "bob", "doas", "alice"), "not allowed to impersonate"},
		{"bob", e.url("/user/alice/f", "OPEN", "user.name", "dr.who"), "may act only as bob"},
		{"refused", e.url("/user/alice/f", "OPEN", "user.name", "root"), "the peer runs as nobody"},
		{"refused", e.url("/user/alice/f", "OPEN"), "the peer runs as nobody"},
	} {
		r := as(c.peer, "GET", c.url)
		require.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", c.peer, c.url, r.body)
		m := decode(t, r.body)["RemoteException"].(map[string]any)
		require.Equal(t, "AuthorizationException", m["exception"], "%s", r.body)
		require.Contains(t, m["message"], c.msg)
		require.NotContains(t, string(r.body), "alice's")
	}
}
