package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// The runtime token. An action proxy's port has no authentication in the
// OpenWhisk contract: only the invoker can reach a container. Under the
// standalone invoker every instance listens on the host's loopback, which
// every action shares, so an action of one namespace could otherwise POST
// /run (or /init) to another namespace's warm runtime. The invoker
// therefore gives each runtime a secret of its own (TokenEnv in its
// environment) and sends it with every request:
//
//	Authorization: Bearer <token>
//
// With Options.Token set, every request (there is no health path) must
// carry it; any other is answered 403 with a JSON error, before its body
// is read, and nothing runs, is logged to the action's streams or counted:
// a refused /run writes no sentinels, so it cannot cut the logs of an
// activation in progress. Without a token the runtime serves anyone, as
// OpenWhisk's invoker expects.
//
// The token never reaches the action: New removes TokenEnv from the
// action's and the Go build's environments (actionEnv also drops every
// MARVEL_* name of the init env), and it is never on a command line.
// Under Options.Isolate the action runs as another user than the runtime,
// so it cannot read the runtime's /proc/PID/environ either.
const (
	// TokenEnv is the runtime's environment variable holding the token.
	TokenEnv = "MARVEL_RUNTIME_TOKEN"
	// TokenHeader is the request header carrying it, as TokenScheme+token.
	TokenHeader = "Authorization"
	// TokenScheme prefixes the token in TokenHeader.
	TokenScheme = "Bearer "
	// MaxTokenBytes bounds a token.
	MaxTokenBytes = 1024
)

// validToken reports what is wrong with a token, or nil: it must be 1 to
// MaxTokenBytes visible ASCII characters (it travels in a header).
func validToken(tok string) error {
	if len(tok) == 0 || len(tok) > MaxTokenBytes {
		return fmt.Errorf("proxy: the runtime token must be 1 to %d bytes long (it is %d)", MaxTokenBytes, len(tok))
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("proxy: the runtime token holds byte %#02x at %d; only visible ASCII is allowed", c, i)
		}
	}
	return nil
}

// withoutToken returns env without TokenEnv.
func withoutToken(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, TokenEnv+"=")
	})
}

// requireToken wraps h so that only requests carrying the token reach it.
func (s *Server) requireToken(h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.opts.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(TokenHeader)
		if v == "" {
			s.refuse(w, r, "this runtime only serves the platform that started it: the request has no "+TokenHeader+" header (expected \""+TokenScheme+"<token>\")")
			return
		}
		tok, ok := strings.CutPrefix(v, TokenScheme)
		// Compare digests, so that neither the length nor the content of
		// the token shows in the time taken.
		got := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !ok {
			s.refuse(w, r, "this runtime only serves the platform that started it: the request's "+TokenHeader+" does not carry its token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuse answers a request without the right token.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, msg string) {
	s.stats.refused.Add(1)
	s.log.Warn("request without the runtime token refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusForbidden, msg)
}
