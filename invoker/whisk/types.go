// Package whisk holds the JSON entities of the OpenWhisk controller REST API
// subset that Marvel serves and speaks: actions, activations, their limits,
// parameters and annotations, and error bodies. The field names and shapes
// are those of OpenWhisk's API (what wsk and openwhisk-client-go send and
// expect); the server (invoker/api) and the project's client
// (invoker/client) share them.
package whisk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// KeyValue is one parameter or annotation.
type KeyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// KeyValues is a list of parameters or annotations; it marshals as [] when
// empty, as OpenWhisk does.
type KeyValues []KeyValue

// MarshalJSON writes an empty list as [] rather than null.
func (kv KeyValues) MarshalJSON() ([]byte, error) {
	if kv == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]KeyValue(kv))
}

// Get returns the value of key, or nil.
func (kv KeyValues) Get(key string) json.RawMessage {
	for _, p := range kv {
		if p.Key == key {
			return p.Value
		}
	}
	return nil
}

// Bool reports whether key is set to a truthy JSON value (true, a
// non-empty string other than "false", a non-zero number).
func (kv KeyValues) Bool(key string) bool {
	v := bytes.TrimSpace(kv.Get(key))
	switch {
	case len(v) == 0, string(v) == "null", string(v) == "false", string(v) == `""`, string(v) == `"false"`, string(v) == "0":
		return false
	}
	return true
}

// Set returns kv with key set to value (replacing an existing entry).
func (kv KeyValues) Set(key string, value any) KeyValues {
	raw, err := json.Marshal(value)
	if err != nil {
		raw = []byte("null")
	}
	for i, p := range kv {
		if p.Key == key {
			out := append(KeyValues(nil), kv...)
			out[i].Value = raw
			return out
		}
	}
	return append(append(KeyValues(nil), kv...), KeyValue{Key: key, Value: raw})
}

// Without returns kv without the given keys.
func (kv KeyValues) Without(keys ...string) KeyValues {
	var out KeyValues
	for _, p := range kv {
		drop := false
		for _, k := range keys {
			if p.Key == k {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, p)
		}
	}
	return out
}

// Exec is an action's executable: its kind and code or image.
type Exec struct {
	// Kind is "go:default", "go:1.26", "blackbox", "native" (the old
	// dockerskeleton), "marvel:default"... see the server's kinds.
	Kind string `json:"kind"`
	// Code is source or, for binary kinds, base64 (a zip or an executable).
	Code *string `json:"code,omitempty"`
	// Image names a blackbox image (kept and reported; Marvel runs the
	// code, or the runtime's built-in function, not a container image).
	Image string `json:"image,omitempty"`
	// Main is the entry point (default "main").
	Main string `json:"main,omitempty"`
	// Binary is computed by the server: the code is base64.
	Binary     *bool    `json:"binary,omitempty"`
	Components []string `json:"components,omitempty"`
}

// Limits are an action's limits. On requests a nil field keeps the
// default (create) or the current value (update); in responses all are set.
type Limits struct {
	Timeout     *int `json:"timeout,omitempty"`     // milliseconds
	Memory      *int `json:"memory,omitempty"`      // megabytes
	Logs        *int `json:"logs,omitempty"`        // megabytes
	Concurrency *int `json:"concurrency,omitempty"` // activations at once
}

// Action is an action as the API sends and receives it.
type Action struct {
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Version     string    `json:"version,omitempty"`
	Publish     bool      `json:"publish"`
	Exec        *Exec     `json:"exec,omitempty"`
	Annotations KeyValues `json:"annotations"`
	Parameters  KeyValues `json:"parameters"`
	Limits      *Limits   `json:"limits,omitempty"`
	// Updated is the last change, in epoch milliseconds.
	Updated int64 `json:"updated,omitempty"`
	// DelAnnotations lists annotations an update removes (request only).
	DelAnnotations []string `json:"delAnnotations,omitempty"`
}

// Status strings of an activation's response, by statusCode.
const (
	StatusSuccess          = "success"
	StatusApplicationError = "application error"
	StatusDeveloperError   = "action developer error"
	StatusWhiskError       = "whisk internal error"
)

// Status codes of an activation's response.
const (
	CodeSuccess = iota
	CodeApplicationError
	CodeDeveloperError
	CodeWhiskError
)

// StatusText returns the status string of a status code.
func StatusText(code int) string {
	switch code {
	case CodeSuccess:
		return StatusSuccess
	case CodeApplicationError:
		return StatusApplicationError
	case CodeDeveloperError:
		return StatusDeveloperError
	}
	return StatusWhiskError
}

// StatusCodeOf returns the status code of a status string.
func StatusCodeOf(status string) int {
	switch status {
	case StatusSuccess:
		return CodeSuccess
	case StatusApplicationError:
		return CodeApplicationError
	case StatusDeveloperError:
		return CodeDeveloperError
	}
	return CodeWhiskError
}

// Response is an activation's outcome.
type Response struct {
	Status  string          `json:"status"`
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result,omitempty"`
	// Size is the result's size in bytes when it was cut for being too
	// large (set only then).
	Size *int `json:"size,omitempty"`
}

// Activation is an activation record. In list summaries Logs and Response
// are absent and StatusCode is set; the full record has Response and Logs.
type Activation struct {
	Namespace    string    `json:"namespace"`
	Name         string    `json:"name"`
	Subject      string    `json:"subject,omitempty"`
	ActivationID string    `json:"activationId"`
	Start        int64     `json:"start"`
	End          int64     `json:"end"`
	Duration     int64     `json:"duration"`
	Cause        string    `json:"cause,omitempty"`
	Logs         []string  `json:"logs,omitempty"`
	Version      string    `json:"version"`
	Publish      bool      `json:"publish"`
	Annotations  KeyValues `json:"annotations"`
	Response     *Response `json:"response,omitempty"`
	StatusCode   *int      `json:"statusCode,omitempty"`
}

// MarshalJSON writes a full record's logs as [] when there are none, as
// OpenWhisk does; a summary (StatusCode set) has no logs field.
func (a Activation) MarshalJSON() ([]byte, error) {
	type plain Activation
	if a.StatusCode == nil && a.Logs == nil {
		a.Logs = []string{}
		return json.Marshal(struct {
			plain
			Logs []string `json:"logs"`
		}{plain(a), a.Logs})
	}
	return json.Marshal(plain(a))
}

// Summary returns the list form of a: no logs or response, the status code
// at the top.
func (a Activation) Summary() Activation {
	s := a
	s.Logs = nil
	if a.Response != nil {
		code := StatusCodeOf(a.Response.Status)
		s.StatusCode = &code
	}
	s.Response = nil
	return s
}

// Error is the body of every error reply: a message and the transaction id
// ("code"). An application error of a blocking invoke is the exception: its
// 502 body is the action's result, without "code".
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// ActivationID is the body of a non-blocking invoke's 202.
type ActivationID struct {
	ActivationID string `json:"activationId"`
}

// Info is GET /api/v1.
type Info struct {
	Description    string            `json:"description"`
	APIVersion     string            `json:"api_version"`
	APIVersionPath string            `json:"api_version_path"`
	Build          string            `json:"build"`
	BuildNo        string            `json:"buildno"`
	SwaggerPaths   map[string]string `json:"swagger_paths"`
}

// Count is the body of an activation list with count=true.
type Count struct {
	Activations int `json:"activations"`
}

// JobRegion is a job-scoped PMEM region (a Marvel extension of the API,
// under /namespaces/{ns}/regions): capacity a job holds under a lease it
// renews, released when the job is done or reclaimed when it stops renewing.
type JobRegion struct {
	Namespace string    `json:"namespace"`
	Job       string    `json:"job"`
	Region    string    `json:"region"`
	Size      int64     `json:"size"`
	Expires   time.Time `json:"expires"`
}

// nameRE is OpenWhisk's entity name rule: a letter, digit or underscore
// first, then also @ . - and spaces (not trailing), at most 256 characters.
var nameRE = regexp.MustCompile(`^[\w@.-]$|^[\w@.-][\w@ .-]*[\w@.-]$`)

// ValidName reports whether s is a valid namespace, package or action name.
func ValidName(s string) error {
	if len(s) == 0 || len(s) > 256 {
		return fmt.Errorf("name of %d characters: want 1 to 256", len(s))
	}
	if strings.HasPrefix(s, "@") || !nameRE.MatchString(s) {
		return fmt.Errorf("name %q: use letters, digits, _ @ . - and inner spaces, not starting with @", s)
	}
	return nil
}
