package peer

// procNetTCP are the tables of this network namespace's TCP sockets.
var procNetTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}
