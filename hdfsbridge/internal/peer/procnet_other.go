//go:build !linux

package peer

// procNetTCP is empty: only Linux lists sockets in /proc/net, so LocalUID
// finds no local peer and callers refuse them.
var procNetTCP []string
