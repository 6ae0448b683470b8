package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/runtime/actionloop"
)

func TestEnvText(t *testing.T) {
	for raw, want := range map[string]string{
		`"xyz"`: "xyz", `""`: "", `null`: "", `42`: "42", `true`: "true",
		`[1, 2, 3]`: "[1,2,3]", `{"a": "b"}`: `{"a":"b"}`, `"❄"`: "❄",
	} {
		require.Equal(t, want, envText(json.RawMessage(raw)), raw)
	}
}

func TestIsBinary(t *testing.T) {
	yes, no := true, false
	require.True(t, isBinary(&initValue{Code: "UEsDBA=="}))
	require.False(t, isBinary(&initValue{Code: "#!/bin/bash\necho"}))
	require.False(t, isBinary(&initValue{Code: "abc"}), "length not a multiple of 4")
	require.False(t, isBinary(&initValue{Code: "UEsDBA==", Binary: &no}), "the request decides")
	require.True(t, isBinary(&initValue{Code: "anything", Binary: &yes}))
}

func TestDictOrArray(t *testing.T) {
	for reply, want := range map[string]bool{
		`{}`: true, `{"a":1}`: true, `[]`: true, ` ["a","b"] `: true, `{"error":"x"}`: true,
		`null`: false, `42`: false, `"s"`: false, `true`: false, ``: false, `{`: false, `{"a":1} x`: false,
	} {
		require.Equal(t, want, dictOrArray([]byte(reply)), reply)
	}
}

func TestParseDeadline(t *testing.T) {
	dl, ok := parseDeadline("1700000000000")
	require.True(t, ok)
	require.Equal(t, time.UnixMilli(1700000000000), dl)
	_, ok = parseDeadline(float64(1700000000000))
	require.True(t, ok)
	for _, bad := range []any{nil, "", "soon", "-5", float64(0), true} {
		_, ok := parseDeadline(bad)
		require.False(t, ok, "%v", bad)
	}
}

// TestErrorTexts is the table from action-process errors to what the
// platform sees.
func TestErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: exit status 7", actionloop.ErrExited), "The action process exited during the activation (exit status 7); see its logs. The next activation starts a new process (its state is kept)."},
		{actionloop.ErrDeadline, "The action exceeded its deadline and was stopped; the next activation starts a new process (its state is kept)."},
		{fmt.Errorf("%w: x", actionloop.ErrCanceled), "The activation was canceled (the caller went away); the action process was stopped."},
		{fmt.Errorf("%w: 3 bytes arrived on fd 3 after the last answer", actionloop.ErrProtocol), "The action broke the ActionLoop protocol (3 bytes arrived on fd 3 after the last answer): it must write exactly one line on fd 3 per activation. It was stopped."},
		{fmt.Errorf("%w: more than 9 bytes without a newline", actionloop.ErrReplyTooLarge), "The action's result is too large (more than 9 bytes without a newline). It was stopped."},
		{errors.New("odd"), "The action failed: odd"},
	} {
		require.Equal(t, tc.want, runError(tc.err))
	}
	require.Equal(t, "Cannot start action: Command exited abruptly during initialization (exit status 3). Check logs for details.",
		startError(fmt.Errorf("%w: exit status 3", actionloop.ErrExitedAtStart)))
	require.Equal(t, `Cannot start action: The action did not initialize properly: the first line on fd 3 was "{}", want {"ok":true}`,
		startError(fmt.Errorf(`%w: the first line on fd 3 was "{}", want {"ok":true}`, actionloop.ErrBadAck)))
	status, body := errBody(403, msgInitTwice)
	require.Equal(t, 403, status)
	require.JSONEq(t, `{"error":"Cannot initialize the action more than once."}`, string(body))
}
