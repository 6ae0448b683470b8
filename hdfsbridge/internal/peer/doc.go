// Package peer tells the bridge who is at the other end of a TCP
// connection when that end is a process on this host.
//
// HDFS's SIMPLE authentication believes whatever user a client names. That
// is Hadoop's contract with clients on other hosts, and the bridge keeps it
// for them. But actions run on the bridge's own host: under `marvel runtime
// --isolate` each namespace's action processes run as a uid of their own
// (runtime/proxy/isolate.go), and such a process must not be able to claim
// root or another namespace's user over loopback.
//
// Linux has no SO_PEERCRED for TCP, so LocalUID finds the peer's socket in
// /proc/net/tcp and /proc/net/tcp6 (the entry whose local address is the
// peer's address and port and whose remote address is ours) and reads the
// uid that owns it. A Resolver then maps that uid to the namespace it was
// given in <data>/.uids, the file the runtime writes:
//
//	<uid> <EscapeName(namespace)>\n
//
// An isolated action is bound to the user named like its namespace's
// directory under <data>/fs (the escaped name, which is the owner HDFS gives
// that directory), whatever it claims. A peer running as nobody (an action
// not bound to a namespace yet), or as a uid of the isolation range that
// .uids does not name, is refused; so is a local peer whose socket cannot be
// found (fail closed). Peers on other hosts, and local peers running as any
// other uid (root, the operator), keep SIMPLE authentication.
package peer
