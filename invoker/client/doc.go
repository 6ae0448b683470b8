// Package client is a small client of the OpenWhisk controller REST API
// subset that Marvel serves (`marvel standalone`) and that any OpenWhisk
// deployment serves: actions (create, update, get, list, delete, invoke) and
// activations (list, count, get, logs, result). It speaks the same wire
// format as wsk and openwhisk-client-go, with the entity types of package
// invoker/whisk.
//
// # Usage
//
//	cfg, err := client.LoadConfig(os.Getenv) // ~/.wskprops, WHISK_* overrides
//	...
//	c, err := client.New(cfg)
//	...
//	defer c.CloseIdleConnections()
//	inv, err := c.Invoke(ctx, "hello", map[string]any{"name": "Demo"}, client.InvokeOptions{Result: true})
//	var appErr *client.ApplicationError
//	switch {
//	case errors.As(err, &appErr): // the action failed; inv.Result holds its result
//	case err != nil:               // *client.Error from the server, or a transport error
//	default:                       // inv.Result is {"main":"Hello, Demo"}
//	}
//
// Entity names are "name" or "package/name" in Config.Namespace ("_", the
// caller's own, by default), or "/namespace/name" and
// "/namespace/package/name". Each path segment is escaped on its own.
//
// # Errors
//
// A non-2xx reply is an *Error: Status, and Message and Code from
// OpenWhisk's {"error","code"} body, or the start of the body text when it
// is something else (a proxy's HTML page). A blocking invoke whose action
// failed (502 without "code") is an *ApplicationError returned together
// with the Invocation. Transport failures, an oversized reply
// (ErrReplyTooLarge), a missing auth key (ErrNoAuth) and a name that
// cannot be a path (ErrBadName) are wrapped errors with the "client:"
// prefix.
//
// # Caveats
//
//   - The default HTTP client uses no proxy and does not read the
//     environment; pass Config.HTTPClient for a proxy or client
//     certificates. Config.Insecure applies to the default client only.
//   - Without a scheme, APIHost is https:// except for loopback hosts,
//     which are http:// (wsk would use https:// for those too).
//   - A blocking invoke without InvokeOptions.Timeout has no client-side
//     deadline: OpenWhisk answers 202 after its own wait (60 s by default),
//     and the caller's context bounds the rest.
//   - Reply bodies are read in full, up to Config.MaxReplyBytes (64 MiB).
package client
