package main

import (
	"errors"
	"fmt"

	"github.com/marvel-serverless/marvel/runtime/sdk"
)

// Main adds "by" (default 1) to the counter "name" (default "count") kept in
// the action's persistent state, and returns the new value with the state's
// cache figures.
func Main(args map[string]any) (map[string]any, error) {
	st, err := sdk.OpenState()
	if err != nil {
		return nil, err
	}
	name, _ := args["name"].(string)
	if name == "" {
		name = "count"
	}
	by := 1.0
	if v, ok := args["by"]; ok {
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("by must be a number, not %T", v)
		}
		by = f
	}
	n, err := sdk.GetJSON[float64](st, name)
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return nil, err
	}
	n += by
	if err := sdk.PutJSON(st, name, n); err != nil {
		return nil, err
	}
	return map[string]any{"name": name, "count": n, "state": st.Stats()}, nil
}
