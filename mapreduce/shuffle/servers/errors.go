package servers

import "errors"

// ErrNotInstalled is wrapped by the errors of StartRedis and StartS3 when
// the server's binary is missing (and, for MinIO, cannot be built); the
// error says how to install it. Tests skip on it unless servers are
// required.
var ErrNotInstalled = errors.New("servers: server binary not installed")
