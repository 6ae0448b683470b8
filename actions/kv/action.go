package main

import (
	"errors"
	"fmt"

	"github.com/marvel-serverless/marvel/runtime/sdk"
)

// Main runs one operation, chosen by "op":
//
//	put  key value        store value (any JSON) under key
//	get  key              the value, or found=false
//	del  key              remove key
//	keys [prefix]         the keys with prefix
//	stats                 the state's and cache's figures
//	write name data       write file name with the text data
//	read name             file name's text
//	files [dir]           the namespace's files under dir
func Main(args map[string]any) (map[string]any, error) {
	op, _ := args["op"].(string)
	key, _ := args["key"].(string)
	switch op {
	case "write", "read", "files":
		return fileOp(op, args)
	}
	st, err := sdk.OpenState()
	if err != nil {
		return nil, err
	}
	switch op {
	case "put":
		if key == "" {
			return nil, errors.New("put needs a key")
		}
		if err := sdk.PutJSON(st, key, args["value"]); err != nil {
			return nil, err
		}
		return map[string]any{"ok": true}, nil
	case "get":
		v, err := sdk.GetJSON[any](st, key)
		if errors.Is(err, sdk.ErrNotFound) {
			return map[string]any{"found": false}, nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"found": true, "value": v}, nil
	case "del":
		return map[string]any{"ok": true}, st.Delete(key)
	case "keys":
		prefix, _ := args["prefix"].(string)
		return map[string]any{"keys": st.Keys(prefix)}, nil
	case "stats":
		return map[string]any{"stats": st.Stats()}, nil
	}
	return nil, fmt.Errorf("unknown op %q (want put, get, del, keys, stats, write, read or files)", op)
}

func fileOp(op string, args map[string]any) (map[string]any, error) {
	fs, err := sdk.OpenFiles()
	if err != nil {
		return nil, err
	}
	name, _ := args["name"].(string)
	switch op {
	case "write":
		data, _ := args["data"].(string)
		if err := fs.WriteFile(name, []byte(data)); err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "bytes": len(data)}, nil
	case "read":
		b, err := fs.ReadFile(name)
		if err != nil {
			return nil, err
		}
		return map[string]any{"data": string(b)}, nil
	}
	dir, _ := args["dir"].(string)
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	return map[string]any{"files": names}, nil
}
