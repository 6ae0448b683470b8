package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// ActivationQuery selects activations of the client's namespace.
type ActivationQuery struct {
	// Name keeps the activations of one action ("name" or "package/name").
	Name string
	// Since and Upto keep activations that started in [Since, Upto]
	// (sent in epoch milliseconds; zero: unbounded).
	Since, Upto time.Time
	// Limit and Skip page the list, newest first (sent when positive; the
	// server's default limit is 30, at most 200).
	Limit, Skip int
}

func (q ActivationQuery) values() url.Values {
	v := pageQuery(q.Limit, q.Skip)
	if q.Name != "" {
		v.Set("name", q.Name)
	}
	if !q.Since.IsZero() {
		v.Set("since", strconv.FormatInt(q.Since.UnixMilli(), 10))
	}
	if !q.Upto.IsZero() {
		v.Set("upto", strconv.FormatInt(q.Upto.UnixMilli(), 10))
	}
	return v
}

// activationPath returns the path of an activation, with more segments
// (logs, result) after it.
func (c *Client) activationPath(id string, more ...string) ([]string, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty activation id", ErrBadName)
	}
	return append(append(c.nsPath(c.cfg.Namespace, "activations"), id), more...), nil
}

// ListActivations lists activations, newest first: summaries (no logs or
// response; statusCode set), or with docs the full records.
func (c *Client) ListActivations(ctx context.Context, q ActivationQuery, docs bool) ([]whisk.Activation, error) {
	v := q.values()
	if docs {
		v.Set("docs", "true")
	}
	var out []whisk.Activation
	err := c.call(ctx, request{method: http.MethodGet, path: c.nsPath(c.cfg.Namespace, "activations"), query: v, auth: true}, &out)
	return out, err
}

// CountActivations counts the activations q selects (count=true).
func (c *Client) CountActivations(ctx context.Context, q ActivationQuery) (int, error) {
	v := q.values()
	v.Set("count", "true")
	var out whisk.Count
	err := c.call(ctx, request{method: http.MethodGet, path: c.nsPath(c.cfg.Namespace, "activations"), query: v, auth: true}, &out)
	return out.Activations, err
}

// GetActivation fetches an activation's full record.
func (c *Client) GetActivation(ctx context.Context, id string) (whisk.Activation, error) {
	path, err := c.activationPath(id)
	if err != nil {
		return whisk.Activation{}, err
	}
	var out whisk.Activation
	err = c.call(ctx, request{method: http.MethodGet, path: path, auth: true}, &out)
	return out, err
}

// ActivationLogs fetches an activation's log lines.
func (c *Client) ActivationLogs(ctx context.Context, id string) ([]string, error) {
	path, err := c.activationPath(id, "logs")
	if err != nil {
		return nil, err
	}
	var out struct {
		Logs []string `json:"logs"`
	}
	err = c.call(ctx, request{method: http.MethodGet, path: path, auth: true}, &out)
	return out.Logs, err
}

// ActivationResult fetches an activation's response: result, success,
// status (and size when the result was cut).
func (c *Client) ActivationResult(ctx context.Context, id string) (whisk.Response, error) {
	path, err := c.activationPath(id, "result")
	if err != nil {
		return whisk.Response{}, err
	}
	var out whisk.Response
	err = c.call(ctx, request{method: http.MethodGet, path: path, auth: true}, &out)
	return out, err
}

// DefaultPoll is WaitActivation's polling interval when given none.
const DefaultPoll = 500 * time.Millisecond

// WaitActivation polls GetActivation every poll (DefaultPoll when not
// positive) while the server answers 404, until the record exists, another
// error comes, or ctx is done.
func (c *Client) WaitActivation(ctx context.Context, id string, poll time.Duration) (whisk.Activation, error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return whisk.Activation{}, fmt.Errorf("client: wait for activation %s: %w", id, context.Cause(ctx))
		case <-t.C:
		}
		act, err := c.GetActivation(ctx, id)
		var e *Error
		if err == nil || !errors.As(err, &e) || e.Status != http.StatusNotFound {
			return act, err
		}
		t.Reset(poll)
	}
}
