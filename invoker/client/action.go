package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// actionPath returns the namespace, the path and the entity name
// ("name" or "package/name") of an action.
func (c *Client) actionPath(name string) (ns string, path []string, entity string, err error) {
	ns, segs, err := c.entity(name)
	if err != nil {
		return "", nil, "", err
	}
	return ns, append(c.nsPath(ns, "actions"), segs...), strings.Join(segs, "/"), nil
}

// actionPut is the body of PUT …/actions/{name}: the action with what the
// caller left unset absent, as wsk sends it. whisk.Action itself always
// marshals "parameters" and "publish", and on an update OpenWhisk takes a
// present "parameters":[] as "remove the bound parameters".
type actionPut struct {
	Namespace      string          `json:"namespace"`
	Name           string          `json:"name"`
	Version        string          `json:"version,omitempty"`
	Publish        *bool           `json:"publish,omitempty"`
	Exec           *whisk.Exec     `json:"exec,omitempty"`
	Annotations    json.RawMessage `json:"annotations,omitempty"`
	Parameters     json.RawMessage `json:"parameters,omitempty"`
	Limits         *whisk.Limits   `json:"limits,omitempty"`
	DelAnnotations []string        `json:"delAnnotations,omitempty"`
}

// PutAction creates the action a.Name (PUT …/actions/{name}), or with
// overwrite updates or creates it. The body's namespace is a.Namespace, or
// the name's; its name is the entity name without the namespace. Unset
// fields are not sent: Exec nil, Limits nil (or a nil limit), Parameters
// and Annotations nil (a non-nil empty list is sent as []), Publish false,
// Version "". On an update OpenWhisk keeps what is not sent, replaces the
// parameters when sent, and merges the annotations sent into the current
// ones, minus DelAnnotations. The reply is the stored action.
func (c *Client) PutAction(ctx context.Context, a whisk.Action, overwrite bool) (whisk.Action, error) {
	ns, path, entity, err := c.actionPath(a.Name)
	if err != nil {
		return whisk.Action{}, err
	}
	body := actionPut{Namespace: a.Namespace, Name: entity, Version: a.Version, Exec: a.Exec, Limits: a.Limits, DelAnnotations: a.DelAnnotations}
	if body.Namespace == "" {
		body.Namespace = ns
	}
	if a.Publish {
		body.Publish = &a.Publish
	}
	if a.Annotations != nil {
		if body.Annotations, err = json.Marshal(a.Annotations); err != nil {
			return whisk.Action{}, fmt.Errorf("client: put action %s: annotations: %w", a.Name, err)
		}
	}
	if a.Parameters != nil {
		if body.Parameters, err = json.Marshal(a.Parameters); err != nil {
			return whisk.Action{}, fmt.Errorf("client: put action %s: parameters: %w", a.Name, err)
		}
	}
	var out whisk.Action
	err = c.call(ctx, request{method: http.MethodPut, path: path, query: url.Values{"overwrite": {boolString(overwrite)}}, body: body, auth: true}, &out)
	return out, err
}

// GetAction fetches an action; with code, its exec.code too.
func (c *Client) GetAction(ctx context.Context, name string, code bool) (whisk.Action, error) {
	_, path, _, err := c.actionPath(name)
	if err != nil {
		return whisk.Action{}, err
	}
	var out whisk.Action
	err = c.call(ctx, request{method: http.MethodGet, path: path, query: url.Values{"code": {boolString(code)}}, auth: true}, &out)
	return out, err
}

// ListActions lists the actions of the client's namespace. limit and skip
// are sent when positive (the server's default limit is 30, at most 200).
func (c *Client) ListActions(ctx context.Context, limit, skip int) ([]whisk.Action, error) {
	var out []whisk.Action
	err := c.call(ctx, request{method: http.MethodGet, path: c.nsPath(c.cfg.Namespace, "actions"), query: pageQuery(limit, skip), auth: true}, &out)
	return out, err
}

// DeleteAction deletes an action and returns it as it was.
func (c *Client) DeleteAction(ctx context.Context, name string) (whisk.Action, error) {
	_, path, _, err := c.actionPath(name)
	if err != nil {
		return whisk.Action{}, err
	}
	var out whisk.Action
	err = c.call(ctx, request{method: http.MethodDelete, path: path, auth: true}, &out)
	return out, err
}

// pageQuery returns limit and skip as query parameters, each when positive.
func pageQuery(limit, skip int) url.Values {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if skip > 0 {
		q.Set("skip", strconv.Itoa(skip))
	}
	return q
}

// InvokeOptions are the options of Invoke.
type InvokeOptions struct {
	// Blocking waits for the activation to finish (blocking=true).
	Blocking bool
	// Result asks for the result only (result=true); it implies Blocking,
	// as in wsk.
	Result bool
	// Timeout, when positive, is how long a blocking invoke waits before
	// the server answers 202 (?timeout= in milliseconds; OpenWhisk's
	// default is 60 s).
	Timeout time.Duration
}

// Invocation is what an invoke returned.
type Invocation struct {
	// Status is the HTTP status: 200, 202, 502...
	Status int
	// ActivationID is from the x-openwhisk-activation-id header, the 202
	// body or the activation record.
	ActivationID string
	// Result is the reply body of a Result invoke: the action's result.
	Result json.RawMessage
	// Activation is the full record of a blocking invoke without Result.
	Activation *whisk.Activation
	// Pending reports a 202: the activation is still running (a blocking
	// invoke that outlasted its wait, or any non-blocking invoke).
	Pending bool
}

// activationIDHeader carries the activation id on blocking invokes.
const activationIDHeader = "X-Openwhisk-Activation-Id"

// Invoke runs an action with params (any value that marshals to a JSON
// object; nil sends {}): POST …/actions/{name}?blocking=&result=[&timeout=].
//
// A 202 returns Pending with the activation id. A 502 without "code" is the
// action failing (application or developer error): Invoke returns the
// Invocation, filled as for a 200, and an *ApplicationError. So does a 200
// whose activation reports success false (as openwhisk-client-go treats
// it). Any other non-2xx reply is an *Error.
func (c *Client) Invoke(ctx context.Context, name string, params any, o InvokeOptions) (Invocation, error) {
	_, path, _, err := c.actionPath(name)
	if err != nil {
		return Invocation{}, err
	}
	blocking := o.Blocking || o.Result
	q := url.Values{"blocking": {boolString(blocking)}, "result": {boolString(o.Result)}}
	timeout := time.Duration(0)
	if blocking {
		// A blocking invoke waits as long as the server holds it.
		timeout = -1
		if o.Timeout > 0 {
			q.Set("timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10))
			if c.cfg.RequestTimeout > 0 {
				timeout = o.Timeout + c.cfg.RequestTimeout
			}
		}
	}
	if params == nil {
		params = struct{}{}
	}
	rep, err := c.do(ctx, request{method: http.MethodPost, path: path, query: q, body: params, auth: true, timeout: timeout})
	if err != nil {
		return Invocation{}, err
	}
	inv := Invocation{Status: rep.status, ActivationID: rep.header.Get(activationIDHeader)}
	appFailed := rep.status == http.StatusBadGateway && json.Valid(rep.body) && !hasCode(rep.body)
	switch {
	case rep.status == http.StatusAccepted:
		var id whisk.ActivationID
		if err := json.Unmarshal(rep.body, &id); err != nil {
			return inv, fmt.Errorf("client: invoke %s: decode the 202 reply: %w", name, err)
		}
		if id.ActivationID != "" {
			inv.ActivationID = id.ActivationID
		}
		inv.Pending = true
		return inv, nil
	case !rep.ok() && !appFailed:
		return inv, replyError(rep.status, rep.body)
	}
	result := json.RawMessage(rep.body)
	if o.Result {
		inv.Result = result
	} else {
		var act whisk.Activation
		if err := json.Unmarshal(rep.body, &act); err != nil {
			return inv, fmt.Errorf("client: invoke %s: decode the activation (HTTP %d): %w", name, rep.status, err)
		}
		inv.Activation = &act
		if inv.ActivationID == "" {
			inv.ActivationID = act.ActivationID
		}
		if act.Response != nil {
			if len(act.Response.Result) > 0 {
				result = act.Response.Result
			}
			appFailed = appFailed || !act.Response.Success
		}
	}
	if appFailed {
		return inv, &ApplicationError{Status: rep.status, ActivationID: inv.ActivationID, Result: result}
	}
	return inv, nil
}
