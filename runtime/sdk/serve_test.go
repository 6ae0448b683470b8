package sdk

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func serveLines(t *testing.T, fn any, requests ...string) []string {
	t.Helper()
	h, err := adapt(fn)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, loop(strings.NewReader(strings.Join(requests, "\n")+"\n"), &out, h))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines
}

func TestServeShapes(t *testing.T) {
	t.Setenv("__OW_WAIT_FOR_ACK", "")
	req := `{"value":{"name":"Demo"},"namespace":"guest","action_name":"/guest/hello","activation_id":"id1","deadline":"1700000000000"}`
	hello := func(args map[string]any) map[string]any {
		return map[string]any{"main": "Hello, " + args["name"].(string)}
	}
	require.Equal(t, []string{`{"main":"Hello, Demo"}`}, serveLines(t, hello, req))

	withErr := func(args map[string]any) (map[string]any, error) { return nil, errors.New("boom") }
	require.Equal(t, []string{`{"error":"boom"}`}, serveLines(t, withErr, req))

	nilMap := func(args map[string]any) map[string]any { return nil }
	require.Equal(t, []string{`{}`}, serveLines(t, nilMap, req))

	arr := func(args []any) []any { return append(args, "b") }
	require.Equal(t, []string{`["a","b"]`}, serveLines(t, arr, `{"value":["a"]}`))
	require.Equal(t, []string{`{"error":"the action takes an array, and the value is not one: json: cannot unmarshal object into Go value of type []interface {}"}`},
		serveLines(t, arr, `{"value":{}}`))

	panics := func(args map[string]any) map[string]any { panic("oops") }
	require.Equal(t, []string{`{"error":"the action panicked: oops"}`}, serveLines(t, panics, req))

	require.Equal(t, []string{`{"error":"the request is not a JSON object: invalid character 'x' looking for beginning of value"}`, `{"main":"Hello, Demo"}`},
		serveLines(t, hello, "xx", "", req), "a bad line gets an error and the loop goes on; blank lines are skipped")

	unencodable := func(args map[string]any) map[string]any { return map[string]any{"f": func() {}} }
	require.Contains(t, serveLines(t, unencodable, req)[0], `"error":"the action's result cannot be encoded as JSON`)
}

func TestServeActivationContext(t *testing.T) {
	t.Setenv("__OW_WAIT_FOR_ACK", "1")
	var seen Activation
	var env string
	fn := func(args map[string]any) map[string]any {
		seen = Current()
		env = os.Getenv("__OW_ACTIVATION_ID") + "|" + os.Getenv("__OW_API_KEY")
		return args
	}
	lines := serveLines(t, fn, `{"value":{},"namespace":"guest","action_name":"/guest/x","action_version":"0.0.2","activation_id":"abc","transaction_id":"tx","deadline":"1700000000000","api_key":"k:v"}`)
	require.Equal(t, []string{`{"ok":true}`, `{}`}, lines, "the ack comes first when asked for")
	require.Equal(t, Activation{Namespace: "guest", ActionName: "/guest/x", ActionVersion: "0.0.2", ActivationID: "abc",
		TransactionID: "tx", Deadline: time.UnixMilli(1700000000000), APIKey: "k:v"}, seen)
	require.Equal(t, "abc|k:v", env)
}

func TestAdaptRefusesOtherShapes(t *testing.T) {
	for _, fn := range []any{
		nil, 42, func() {}, func(string) string { return "" },
		func(map[string]any) {}, func(map[string]any) (map[string]any, string) { return nil, "" },
		func(map[string]any, int) map[string]any { return nil },
		func(...map[string]any) map[string]any { return nil },
		(func(map[string]any) map[string]any)(nil),
	} {
		_, err := adapt(fn)
		require.ErrorIs(t, err, ErrSignature, "%T", fn)
	}
}
