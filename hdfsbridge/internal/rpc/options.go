package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"

	"google.golang.org/protobuf/proto"
)

// ClientProtocol is the protocol name HDFS clients put in their connection
// context and in every call's RequestHeaderProto.declaringClassProtocolName.
const ClientProtocol = "org.apache.hadoop.hdfs.protocol.ClientProtocol"

// Defaults of Options; DefaultOptions returns them.
const (
	DefaultMaxFrameBytes = 64 << 20
	DefaultIdleTimeout   = 10 * time.Minute
)

// Method is one RPC method of the served protocol.
type Method struct {
	// Name is the method name clients send in RequestHeaderProto.methodName,
	// e.g. "getFileInfo" (the service method name, not the Java method).
	Name string
	// NewRequest returns an empty request message, e.g.
	// new(hadooppb.GetFileInfoRequestProto), for the call body to be
	// unmarshalled into.
	NewRequest func() proto.Message
	// Call serves one call. ctx is cancelled when the connection or the server
	// closes; Call must return soon after. A non-nil error becomes an ERROR
	// reply (see Server); otherwise resp is sent, and must have every
	// required field set. c is valid only during the call.
	Call func(ctx context.Context, c *Conn, req proto.Message) (resp proto.Message, err error)
}

// Options configure a Server.
type Options struct {
	// Protocol is the one protocol served, matched against the connection
	// context and each call's declaringClassProtocolName. Default
	// ClientProtocol; "" means the default.
	Protocol string
	// Methods is the method table; names must be unique and non-empty.
	Methods []Method
	// MaxFrameBytes bounds a request frame (the uint32 length prefix); a
	// longer one closes the connection before anything is allocated for it.
	// Default 64 MiB (Hadoop's ipc.maximum.data.length); 0 means the default.
	MaxFrameBytes int
	// IdleTimeout bounds waiting for the preamble, for each frame and for
	// each reply to be written; an idle connection is closed after it. HDFS
	// clients renew their lease every second, so only dead peers idle.
	// Default 10 minutes; 0 means the default.
	IdleTimeout time.Duration
	// Authorize, if set, is asked once per connection, when the connection
	// context arrives, whether nc may act as user (the context's effective
	// user) on behalf of realUser (its real user; "" if none). An error
	// refuses the connection as Hadoop's Server.authorizeConnection does:
	// FATAL_UNAUTHORIZED, org.apache.hadoop.security.authorize.
	// AuthorizationException with the error's text, then close. nil
	// believes every claim (SIMPLE authentication).
	Authorize func(nc net.Conn, user, realUser string) error
	// Logger receives structured logs; nil is silent.
	Logger *slog.Logger
}

// DefaultOptions returns a fresh Options with every default filled in and no
// methods.
func DefaultOptions() Options {
	return Options{
		Protocol:      ClientProtocol,
		MaxFrameBytes: DefaultMaxFrameBytes,
		IdleTimeout:   DefaultIdleTimeout,
	}
}

// Validate reports every problem with o at once. An empty Protocol and zero
// MaxFrameBytes and IdleTimeout are valid: they stand for the defaults.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Methods) == 0 {
		errs = append(errs, fmt.Errorf("%w: no methods", ErrInvalidOptions))
	}
	seen := make(map[string]bool, len(o.Methods))
	for i, m := range o.Methods {
		if m.Name == "" {
			errs = append(errs, fmt.Errorf("%w: method %d has no name", ErrInvalidOptions, i))
		} else if seen[m.Name] {
			errs = append(errs, fmt.Errorf("%w: method %q listed twice", ErrInvalidOptions, m.Name))
		}
		seen[m.Name] = true
		if m.NewRequest == nil {
			errs = append(errs, fmt.Errorf("%w: method %q has no NewRequest", ErrInvalidOptions, m.Name))
		}
		if m.Call == nil {
			errs = append(errs, fmt.Errorf("%w: method %q has no Call", ErrInvalidOptions, m.Name))
		}
	}
	if o.MaxFrameBytes < 0 || o.MaxFrameBytes > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("%w: max frame bytes %d outside [0, %d]", ErrInvalidOptions, o.MaxFrameBytes, math.MaxInt32))
	}
	if o.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: negative idle timeout %v", ErrInvalidOptions, o.IdleTimeout))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Protocol == "" {
		o.Protocol = d.Protocol
	}
	if o.MaxFrameBytes == 0 {
		o.MaxFrameBytes = d.MaxFrameBytes
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
