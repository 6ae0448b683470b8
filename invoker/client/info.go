package client

import (
	"context"
	"net/http"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// Info fetches the API description (GET /api/v1). It needs no auth key and
// sends none.
func (c *Client) Info(ctx context.Context) (whisk.Info, error) {
	var out whisk.Info
	err := c.call(ctx, request{method: http.MethodGet, path: []string{c.cfg.APIVersion}}, &out)
	return out, err
}

// Namespaces lists the namespaces the auth key may use (GET
// /api/v1/namespaces).
func (c *Client) Namespaces(ctx context.Context) ([]string, error) {
	var out []string
	err := c.call(ctx, request{method: http.MethodGet, path: []string{c.cfg.APIVersion, "namespaces"}, auth: true}, &out)
	return out, err
}
