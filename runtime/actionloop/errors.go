package actionloop

import "errors"

// Errors returned by Start and Run wrap one of these.
var (
	// ErrStart: the executable could not be started (not found, not
	// executable, bad format) or did not get ready in time.
	ErrStart = errors.New("actionloop: cannot start the action")
	// ErrExitedAtStart: the process exited before it was ready.
	ErrExitedAtStart = errors.New("actionloop: the action exited during initialization")
	// ErrBadAck: the first line on fd 3 was not {"ok":true}.
	ErrBadAck = errors.New("actionloop: the action did not initialize properly")
	// ErrExited: the process exited (or closed fd 3) before answering.
	ErrExited = errors.New("actionloop: the action process exited")
	// ErrNotDelivered (always with ErrExited): the process was gone before
	// it read any of the request, so the request may be sent to a new
	// process without the action running it twice.
	ErrNotDelivered = errors.New("actionloop: the request was not delivered")
	// ErrDeadline: the activation's deadline passed; the process was killed.
	ErrDeadline = errors.New("actionloop: the action exceeded its deadline")
	// ErrCanceled: the caller gave up (client gone, shutdown); the process
	// was killed.
	ErrCanceled = errors.New("actionloop: the activation was canceled")
	// ErrBusy: the caller gave up while another activation held the process.
	ErrBusy = errors.New("actionloop: another activation is running")
	// ErrProtocol: the action broke the protocol (more than one line on fd 3
	// for one activation); the process was killed.
	ErrProtocol = errors.New("actionloop: the action wrote more than one answer for one activation")
	// ErrReplyTooLarge: an answer line exceeded Spec.MaxReply.
	ErrReplyTooLarge = errors.New("actionloop: the action's answer is too large")
)
