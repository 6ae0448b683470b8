package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Errors the client reports before or instead of a server reply.
var (
	// ErrNoAuth: the call needs an auth key and the Config has none.
	ErrNoAuth = errors.New("client: no auth key (set AUTH in the wsk property file, WHISK_AUTH, or --auth)")
	// ErrReplyTooLarge: a reply body is over Config.MaxReplyBytes.
	ErrReplyTooLarge = errors.New("client: reply body too large")
	// ErrBadName: an action name or activation id the client cannot put in a
	// path (empty, or with empty segments, or too many segments).
	ErrBadName = errors.New("client: bad entity name")
)

// errorTextMax bounds how much of a reply body that is not an OpenWhisk
// error goes into an Error's message.
const errorTextMax = 300

// Error is a non-2xx reply from the server. When the body is OpenWhisk's
// {"error": ..., "code": ...} Message and Code are those fields (Code is the
// transaction id); otherwise Message is the start of the body text and Code
// is empty.
type Error struct {
	Status  int    // HTTP status
	Message string // the server's message, or the body text cut to a few hundred bytes
	Code    string // OpenWhisk transaction id ("code"), "" when absent
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("openwhisk: %d %s (code %s)", e.Status, msg, e.Code)
	}
	return fmt.Sprintf("openwhisk: %d %s", e.Status, msg)
}

// ApplicationError is a blocking invoke whose action failed: OpenWhisk
// answers 502 with the action's outcome and no "code" (an application or
// action developer error). Invoke returns it together with the Invocation.
type ApplicationError struct {
	Status       int    // HTTP status (502)
	ActivationID string // from the x-openwhisk-activation-id header or the activation
	// Result is the action's result: the reply body for result=true, the
	// activation's response.result otherwise (the reply body when that
	// is absent).
	Result json.RawMessage
}

func (e *ApplicationError) Error() string {
	id := e.ActivationID
	if id == "" {
		id = "(unknown)"
	}
	return fmt.Sprintf("openwhisk: %d application error in activation %s: %s", e.Status, id, cut(string(e.Result)))
}

// replyError turns a non-2xx reply into an *Error.
func replyError(status int, body []byte) *Error {
	if msg, code, ok := whiskError(body); ok {
		return &Error{Status: status, Message: cut(msg), Code: cut(code)}
	}
	return &Error{Status: status, Message: cut(strings.TrimSpace(string(body)))}
}

// whiskError decodes OpenWhisk's error body. The code is a string
// transaction id in current OpenWhisk and a number in old ones; both are
// accepted.
func whiskError(body []byte) (msg, code string, ok bool) {
	var e struct {
		Error json.RawMessage `json:"error"`
		Code  json.RawMessage `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		return "", "", false
	}
	if err := json.Unmarshal(e.Error, &msg); err != nil {
		msg = string(e.Error)
	}
	if len(e.Code) > 0 && string(e.Code) != "null" {
		if err := json.Unmarshal(e.Code, &code); err != nil {
			code = string(e.Code)
		}
	}
	return msg, code, true
}

// hasCode reports whether body is a JSON object with a "code" member.
func hasCode(body []byte) bool {
	var e map[string]json.RawMessage
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	_, ok := e["code"]
	return ok
}

// cut shortens s to about errorTextMax bytes on a rune boundary.
func cut(s string) string {
	if len(s) <= errorTextMax {
		return s
	}
	n := errorTextMax
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}
