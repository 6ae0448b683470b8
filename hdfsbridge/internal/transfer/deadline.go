package transfer

import (
	"context"
	"time"
)

// aLongTimeAgo is a deadline in the past: setting it makes blocked reads
// and writes on a net.Conn return at once.
var aLongTimeAgo = time.Unix(1, 0)

// watch makes set(aLongTimeAgo) run when ctx is done, so that a read or write
// blocked on the connection returns. The returned stop must be called when
// the operation ends; the deadline, once set, is left in place (the
// operation failed, and the connection with it).
func watch(ctx context.Context, set func(time.Time) error) (stop func() bool) {
	if set == nil || ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { _ = set(aLongTimeAgo) })
}

// writeDeadline returns w's SetWriteDeadline, if it has one.
func writeDeadline(w any) func(time.Time) error {
	if d, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		return d.SetWriteDeadline
	}
	return nil
}

// readWriteDeadline returns w's SetDeadline, if it has one: for a net.Conn it
// covers reads through the bufio.Reader wrapped around the same connection.
func readWriteDeadline(w any) func(time.Time) error {
	if d, ok := w.(interface{ SetDeadline(time.Time) error }); ok {
		return d.SetDeadline
	}
	return nil
}
