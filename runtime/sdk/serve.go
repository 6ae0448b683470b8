package sdk

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Activation is the context of the activation being run, from the /run
// request's top-level fields.
type Activation struct {
	Namespace     string
	ActionName    string
	ActionVersion string
	ActivationID  string
	TransactionID string
	// Deadline is when the platform gives up on the activation (zero if the
	// request carried none).
	Deadline time.Time
	// APIKey is present only for actions annotated provide-api-key.
	APIKey string
}

var current atomic.Pointer[Activation]

// Current returns the activation being run (zero before the first one).
func Current() Activation {
	if a := current.Load(); a != nil {
		return *a
	}
	return Activation{}
}

// Main runs Serve and, if it fails, reports why on standard error and exits
// with status 1. Call it from an action's main function.
func Main(fn any) {
	if err := Serve(fn); err != nil {
		fmt.Fprintf(os.Stderr, "marvel sdk: %v\n", err)
		os.Exit(1)
	}
}

// Serve runs the ActionLoop on the process's standard input and descriptor
// 3 until standard input ends (nil) or the loop cannot go on (error).
//
// After a State of the process fails a persistence operation (an msync
// that reports an I/O error), it refuses every later write, because what
// reached the medium is unknown. Serve then answers the activation in
// progress and returns an error, and Main exits: the runtime starts a new
// process for the next activation, which reopens the region and recovers
// it. A write whose persistence failed was never acknowledged; after the
// reopening it is either there whole or not at all.
//
// fn is one of:
//
//	func(map[string]any) map[string]any
//	func(map[string]any) (map[string]any, error)
//	func(map[string]any) []any
//	func(map[string]any) ([]any, error)
//	func([]any) []any   (and the other combinations of map and []any)
//
// A nil map result is sent as {}; a returned error as {"error": message}; a
// panic as {"error": "the action panicked: …"} with the stack on standard
// error. Each activation's fields are also set as __OW_* environment
// variables, as the OpenWhisk Go runtime does.
func Serve(fn any) error {
	h, err := adapt(fn)
	if err != nil {
		return err
	}
	out := os.NewFile(3, "fd3")
	if out == nil {
		return errors.New("sdk: descriptor 3 is not open; run the action under an ActionLoop proxy (marvel runtime)")
	}
	return loop(os.Stdin, out, h)
}

// handler runs one activation on its raw value and returns the result.
type handler func(value json.RawMessage) (any, error)

func loop(in io.Reader, out io.Writer, h handler) error {
	w := bufio.NewWriter(out)
	if os.Getenv("__OW_WAIT_FOR_ACK") != "" {
		if _, err := w.WriteString("{\"ok\":true}\n"); err != nil {
			return fmt.Errorf("sdk: acknowledge on fd 3: %w", err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("sdk: acknowledge on fd 3: %w", err)
		}
	}
	r := bufio.NewReaderSize(in, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("sdk: read request: %w", err)
			}
			continue
		}
		result := runOne(line, h)
		if _, err := w.Write(result); err != nil {
			return fmt.Errorf("sdk: write result on fd 3: %w", err)
		}
		if err := w.WriteByte('\n'); err != nil {
			return fmt.Errorf("sdk: write result on fd 3: %w", err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("sdk: write result on fd 3: %w", err)
		}
		if err := poisoned(); err != nil {
			return fmt.Errorf("sdk: %w; the action process ends so that the runtime starts a new one, which reopens the region with every acknowledged write", err)
		}
	}
}

// runOne decodes a request line, calls h and encodes its answer, which is
// always one line of valid JSON.
func runOne(line []byte, h handler) []byte {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(line, &req); err != nil {
		return errorResult(fmt.Sprintf("the request is not a JSON object: %v", err))
	}
	setActivation(req)
	value := req["value"]
	if len(value) == 0 || string(value) == "null" {
		value = json.RawMessage("{}")
	}
	res, err := call(h, value)
	if err != nil {
		return errorResult(err.Error())
	}
	b, err := json.Marshal(res)
	if err != nil {
		return errorResult(fmt.Sprintf("the action's result cannot be encoded as JSON: %v", err))
	}
	return b
}

func call(h handler, value json.RawMessage) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "panic: %v\n%s", p, debug.Stack())
			res, err = nil, fmt.Errorf("the action panicked: %v", p)
		}
	}()
	return h(value)
}

func errorResult(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// setActivation publishes the request's top-level fields (all but value) as
// __OW_* variables and as Current.
func setActivation(req map[string]json.RawMessage) {
	var a Activation
	for k, raw := range req {
		if k == "value" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw) // numbers and the like, as text
		}
		os.Setenv("__OW_"+strings.ToUpper(k), s)
		switch k {
		case "namespace":
			a.Namespace = s
		case "action_name":
			a.ActionName = s
		case "action_version":
			a.ActionVersion = s
		case "activation_id":
			a.ActivationID = s
		case "transaction_id":
			a.TransactionID = s
		case "api_key":
			a.APIKey = s
		case "deadline":
			if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
				a.Deadline = time.UnixMilli(ms)
			}
		}
	}
	current.Store(&a)
}

var (
	mapType   = reflect.TypeFor[map[string]any]()
	sliceType = reflect.TypeFor[[]any]()
	errorType = reflect.TypeFor[error]()
)

// adapt turns a Main of one of the accepted shapes into a handler.
func adapt(fn any) (handler, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("%w: %T is not a function (or is nil)", ErrSignature, fn)
	}
	t := v.Type()
	okIn := t.NumIn() == 1 && (t.In(0) == mapType || t.In(0) == sliceType)
	okOut := (t.NumOut() == 1 || t.NumOut() == 2 && t.Out(1) == errorType) &&
		(t.Out(0) == mapType || t.Out(0) == sliceType)
	if t.IsVariadic() || !okIn || !okOut {
		return nil, fmt.Errorf("%w: %v; want func(map[string]any) map[string]any, optionally with an error result, or []any in place of either map", ErrSignature, t)
	}
	in := t.In(0)
	return func(value json.RawMessage) (any, error) {
		arg := reflect.New(in)
		if err := json.Unmarshal(value, arg.Interface()); err != nil {
			want := "an object"
			if in == sliceType {
				want = "an array"
			}
			return nil, fmt.Errorf("the action takes %s, and the value is not one: %v", want, err)
		}
		out := v.Call([]reflect.Value{arg.Elem()})
		if len(out) == 2 && !out[1].IsNil() {
			return nil, out[1].Interface().(error)
		}
		if out[0].IsNil() {
			if t.Out(0) == mapType {
				return map[string]any{}, nil
			}
			return []any{}, nil
		}
		return out[0].Interface(), nil
	}, nil
}
