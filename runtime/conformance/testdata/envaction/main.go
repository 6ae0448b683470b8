// Command envaction is a test action: it answers with its environment (as
// the object "env") and the value it was given (as "args").
package main

import (
	"os"
	"strings"

	"github.com/marvel-serverless/marvel/runtime/sdk"
)

func main() { sdk.Main(Main) }

// Main returns the process's environment and args.
func Main(args map[string]any) map[string]any {
	env := map[string]any{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return map[string]any{"env": env, "args": args}
}
