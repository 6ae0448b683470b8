package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the OpenWhisk controller REST API. It is safe for concurrent
// use.
type Client struct {
	cfg  Config
	base *url.URL // <APIHost>/api
	hc   *http.Client
	lg   *slog.Logger
}

// New returns a Client for cfg, with the defaults filled in, or every
// problem with cfg at once.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := baseURL(cfg.APIHost)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient(cfg.Insecure)
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, base: base, hc: hc, lg: lg}, nil
}

// defaultHTTPClient bounds connecting and the TLS handshake but not the
// wait for a reply: a blocking invoke may legitimately take minutes. It
// uses no proxy (pass a Config.HTTPClient for one).
func defaultHTTPClient(insecure bool) *http.Client {
	t := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64, // many concurrent invokes reuse their connections
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // asked for: Config.Insecure (wsk -i)
	}
	return &http.Client{Transport: t}
}

// Config returns the client's configuration with the defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// BaseURL returns the URL of the API root, <APIHost>/api.
func (c *Client) BaseURL() string { return c.base.String() }

// CloseIdleConnections closes the idle keep-alive connections of the
// client's HTTP client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// request is one call to the API.
type request struct {
	method string
	path   []string   // unescaped segments after /api
	query  url.Values // nil: none
	body   any        // nil: no body; else sent as JSON
	auth   bool       // send the Basic credentials (and require them)
	// timeout bounds the call: 0 is Config.RequestTimeout, < 0 none.
	timeout time.Duration
}

// reply is a server's answer, its body read in full (within the limit).
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *reply) ok() bool { return r.status >= 200 && r.status <= 299 }

// url returns the request's URL: each path segment escaped on its own.
func (c *Client) url(segs []string, q url.Values) string {
	var b strings.Builder
	b.WriteString(c.base.String())
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	if len(q) > 0 {
		b.WriteByte('?')
		b.WriteString(q.Encode())
	}
	return b.String()
}

// do sends r and reads the reply.
func (c *Client) do(ctx context.Context, r request) (*reply, error) {
	if r.auth && c.cfg.Auth == "" {
		return nil, ErrNoAuth
	}
	u := c.url(r.path, r.query)
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("client: %s %s: encode the request body: %w", r.method, u, err)
		}
		body = bytes.NewReader(b)
	}
	timeout := r.timeout
	if timeout == 0 {
		timeout = c.cfg.RequestTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, u, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if r.auth {
		subject, key, _ := strings.Cut(c.cfg.Auth, ":")
		req.SetBasicAuth(subject, key)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error names the method and URL.
		return nil, fmt.Errorf("client: %w", err)
	}
	defer resp.Body.Close()
	limit := c.cfg.MaxReplyBytes
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: read the reply (HTTP %d): %w", r.method, u, resp.StatusCode, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s %s sent more than %d bytes (HTTP %d)", ErrReplyTooLarge, r.method, u, limit, resp.StatusCode)
	}
	c.lg.Debug("openwhisk request", "method", r.method, "url", u, "status", resp.StatusCode, "bytes", len(data), "elapsed", time.Since(start))
	return &reply{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// call sends r and decodes a 2xx reply into out (unless out is nil); a
// non-2xx reply is an *Error.
func (c *Client) call(ctx context.Context, r request, out any) error {
	rep, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if !rep.ok() {
		return replyError(rep.status, rep.body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rep.body, out); err != nil {
		return fmt.Errorf("client: %s %s: decode the reply (HTTP %d): %w", r.method, c.url(r.path, r.query), rep.status, err)
	}
	return nil
}

// nsPath returns the path of a namespace's collection: v1/namespaces/NS/KIND.
func (c *Client) nsPath(ns, collection string) []string {
	return []string{c.cfg.APIVersion, "namespaces", ns, collection}
}

// entity splits an entity name into its namespace and its one or two path
// segments ("name" or "package/name"). A name starting with / names its
// namespace first: "/ns/name", "/ns/package/name".
func (c *Client) entity(name string) (ns string, segs []string, err error) {
	ns = c.cfg.Namespace
	rest := name
	if strings.HasPrefix(name, "/") {
		var ok bool
		ns, rest, ok = strings.Cut(name[1:], "/")
		if !ok || ns == "" {
			return "", nil, fmt.Errorf("%w %q: a name starting with / is /namespace/[package/]name", ErrBadName, name)
		}
	}
	segs = strings.Split(rest, "/")
	if len(segs) > 2 {
		return "", nil, fmt.Errorf("%w %q: want name or package/name", ErrBadName, name)
	}
	for _, s := range segs {
		if s == "" {
			return "", nil, fmt.Errorf("%w %q: empty name or package", ErrBadName, name)
		}
	}
	return ns, segs, nil
}

// boolString formats a query flag as OpenWhisk expects it.
func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
