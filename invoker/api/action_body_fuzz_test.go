package api

import (
	"encoding/json"
	"testing"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// FuzzActionBody: the body of an action PUT is outside input. Decoding it
// and building the action (create, and update of an existing one) never
// panics; a built action has an exec of a known kind with code within
// MaxCodeBytes, parameters and annotations within MaxParamsBytes, limits
// in OpenWhisk's ranges, and the namespace and name of the path, never of
// the body.
//
//	go test -run '^$' -fuzz '^FuzzActionBody$' ./invoker/api
func FuzzActionBody(f *testing.F) {
	for _, s := range []string{
		`{"exec":{"kind":"go:default","code":"UEsDBA=="}}`,
		`{"namespace":"other","name":"../x","exec":{"kind":"native","code":"#!/bin/sh\necho {}"},"limits":{"timeout":100,"memory":128,"logs":0,"concurrency":500}}`,
		`{"exec":{"kind":"blackbox","image":"x/y","code":" "}}`,
		`{"exec":{"kind":"cobol:85","code":"x"}}`,
		`{"limits":{"timeout":-1,"memory":1e309}}`,
		`{"parameters":[{"key":"a","value":{"b":[1,2,3]}}],"annotations":[{"key":"exec","value":"x"},{"key":"provide-api-key","value":true}],"delAnnotations":["exec"]}`,
		`{"exec":null,"parameters":null,"annotations":[{"key":"","value":null}]}`,
		`{"exec":{"kind":"go:default","code":"\u0000"},"publish":true,"version":"9.9.9"}`,
	} {
		f.Add([]byte(s))
	}
	base := &whisk.Action{}
	if err := json.Unmarshal([]byte(`{"exec":{"kind":"go:default","code":"UEsDBA=="},"parameters":[{"key":"p","value":1}]}`), base); err != nil {
		f.Fatal(err)
	}
	cur, err := merge("guest", "a", nil, base, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req whisk.Action
		if json.Unmarshal(body, &req) != nil {
			return
		}
		for _, c := range []*whisk.Action{nil, cur} {
			a, err := merge("guest", "a", c, &req, 2)
			if err != nil {
				continue
			}
			if a.Namespace != "guest" || a.Name != "a" {
				t.Fatalf("%s: built %s/%s", body, a.Namespace, a.Name)
			}
			if a.Exec == nil || !knownKind(a.Exec.Kind) || a.Exec.Code == nil || len(*a.Exec.Code) > MaxCodeBytes {
				t.Fatalf("%s: exec %+v", body, a.Exec)
			}
			if p, _ := json.Marshal(a.Parameters); len(p) > MaxParamsBytes {
				t.Fatalf("%s: parameters of %d bytes", body, len(p))
			}
			if p, _ := json.Marshal(a.Annotations); len(p) > MaxParamsBytes {
				t.Fatalf("%s: annotations of %d bytes", body, len(p))
			}
			if a.Limits == nil {
				t.Fatalf("%s: no limits", body)
			}
			l := a.Limits
			if l.Timeout == nil || *l.Timeout < 100 || *l.Timeout > 300000 || l.Memory == nil || *l.Memory < 128 || *l.Memory > 512 {
				t.Fatalf("%s: limits %s", body, mustMarshal(l))
			}
		}
	})
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
