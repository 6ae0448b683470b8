package conformance_test

import (
	"strconv"
	"testing"
	"time"
)

// unset stands for a variable absent from the action's environment.
const unset = "(unset)"

// actionEnv runs envaction and returns the environment it reports.
func actionEnv(t *testing.T, r *marvelRuntime, ctx map[string]any) map[string]any {
	t.Helper()
	res := decode(t, "run", r.run(t, map[string]any{"p": "q"}, ctx))
	if args, _ := res["args"].(map[string]any); args["p"] != "q" {
		t.Errorf("the action got args %v, want {\"p\":\"q\"}", res["args"])
	}
	env, ok := res["env"].(map[string]any)
	if !ok {
		t.Fatalf("the action's answer has no env: %v", res)
	}
	return env
}

func wantEnv(t *testing.T, env map[string]any, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got, ok := env[k].(string)
		if !ok {
			got = unset
		}
		if got != w {
			t.Errorf("the action sees %s=%q, want %q", k, got, w)
		}
	}
}

// TestEnv checks what the action finds in its environment: the init env
// (values as text), the activation's fields as __OW_*, __OW_API_HOST from
// the runtime's own environment, and nothing the runtime reserves or keeps
// to itself.
func TestEnv(t *testing.T) {
	t.Parallel()
	t.Run("with the activation's context", func(t *testing.T) {
		t.Parallel()
		r := startRuntime(t, runtimeConfig{env: []string{
			"__OW_API_HOST=https://openwhisk.example:3233",
			"CONFORMANCE_PRIVATE=the runtime's own",
		}})
		r.initAction(t, "envaction", map[string]any{
			"SOME_VAR":           "xyz",
			"ANOTHER_VAR":        "",
			"NUM":                42,
			"LIST":               []any{1, 2, 3},
			"NOTHING":            nil,
			"MARVEL_REGION_PATH": "/tmp/someone-elses.region",
		})
		deadline := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
		env := actionEnv(t, r, map[string]any{
			"api_key":        "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:key",
			"namespace":      "guest",
			"action_name":    "/guest/env",
			"action_version": "0.0.7",
			"activation_id":  "0123456789abcdef0123456789abcdef",
			"deadline":       deadline,
			"transaction_id": "tid-42",
		})
		wantEnv(t, env, map[string]string{
			"SOME_VAR":             "xyz",
			"ANOTHER_VAR":          "",
			"NUM":                  "42",
			"LIST":                 "[1,2,3]",
			"NOTHING":              "",
			"__OW_API_KEY":         "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:key",
			"__OW_NAMESPACE":       "guest",
			"__OW_ACTION_NAME":     "/guest/env",
			"__OW_ACTION_VERSION":  "0.0.7",
			"__OW_ACTIVATION_ID":   "0123456789abcdef0123456789abcdef",
			"__OW_DEADLINE":        deadline,
			"__OW_TRANSACTION_ID":  "tid-42",
			"__OW_API_HOST":        "https://openwhisk.example:3233",
			"__OW_WAIT_FOR_ACK":    "true",
			"MARVEL_REGION_PATH":   unset,
			"CONFORMANCE_PRIVATE":  unset,
			"CONFORMANCE_NOT_SENT": unset,
		})
		r.stopAndCountSentinels(t, 1)
	})
	// Without a namespace and name the action has no region: an init env
	// must not hand it one (or a files directory) either.
	t.Run("without an identity", func(t *testing.T) {
		t.Parallel()
		r := startRuntime(t, runtimeConfig{})
		r.initAction(t, "envaction", map[string]any{
			"SOME_VAR":           "xyz",
			"MARVEL_REGION_PATH": "/tmp/someone-elses.region",
			"MARVEL_REGION_FD":   "0",
			"MARVEL_FILES_DIR":   "/etc",
			"__OW_WAIT_FOR_ACK":  "false",
		})
		env := actionEnv(t, r, nil)
		wantEnv(t, env, map[string]string{
			"SOME_VAR":           "xyz",
			"MARVEL_REGION_PATH": unset,
			"MARVEL_REGION_FD":   unset,
			"MARVEL_FILES_DIR":   unset,
			"__OW_WAIT_FOR_ACK":  "true",
		})
		r.stopAndCountSentinels(t, 1)
	})
}
