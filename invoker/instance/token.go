package instance

import (
	"crypto/rand"
	"encoding/hex"
)

// The runtime token. A runtime listens on the loopback interface, which the
// actions of every namespace share; so that only this package can send it
// /init and /run, Start gives each runtime a fresh secret (32 random bytes,
// hex) in its environment as RuntimeTokenEnv, and every request carries it
// as "Authorization: Bearer <token>". The runtime refuses any request
// without it (403) and keeps it from its action (runtime/proxy, token.go).
// The secret lives only in this process's memory and the runtime's
// environment, which under --isolate no action can read (it runs as
// another user than the runtime).
const (
	// RuntimeTokenEnv is the runtime's variable holding the token (the
	// same as runtime/proxy.TokenEnv).
	RuntimeTokenEnv = "MARVEL_RUNTIME_TOKEN"
	// RuntimeTokenHeader carries the token in every request (the same as
	// runtime/proxy.TokenHeader).
	RuntimeTokenHeader = "Authorization"
	runtimeTokenScheme = "Bearer "
)

// newSecret returns a new runtime token.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(b[:])
}
