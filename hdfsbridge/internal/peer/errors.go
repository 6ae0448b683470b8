package peer

import "errors"

// Sentinel errors; errors of this package wrap one of them.
var (
	// ErrNotFound: the peer is a process of this host, but no socket of it
	// matches the connection (it closed already, or /proc is not mounted).
	ErrNotFound = errors.New("peer: the local peer's socket was not found")
	// ErrUnboundAction: the peer runs as nobody, the user of an action not
	// bound to a namespace yet.
	ErrUnboundAction = errors.New("peer: the peer is an action not bound to a namespace")
	// ErrUnknownUID: the peer runs as a uid of the isolation range that the
	// uid file does not name.
	ErrUnknownUID = errors.New("peer: the peer runs as an isolation uid of no known namespace")
	// ErrUIDFile: the uid file cannot be read or is damaged.
	ErrUIDFile = errors.New("peer: bad uid file")
	// ErrImpersonation: a bound peer claims another user.
	ErrImpersonation = errors.New("peer: impersonation refused")
)
