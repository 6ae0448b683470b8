package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// Job regions are a Marvel extension of the API: a job holds PMEM capacity
// under a lease that GrantRegion renews; ReleaseRegion gives it back.

func (c *Client) regionPath(job string) ([]string, error) {
	if job == "" {
		return nil, fmt.Errorf("%w: empty job name", ErrBadName)
	}
	return append(c.nsPath(c.cfg.Namespace, "regions"), job), nil
}

// GrantRegion grants job a region of size bytes (0: the server's default),
// or renews the one it holds.
func (c *Client) GrantRegion(ctx context.Context, job string, size int64) (whisk.JobRegion, error) {
	path, err := c.regionPath(job)
	if err != nil {
		return whisk.JobRegion{}, err
	}
	q := url.Values{}
	if size > 0 {
		q.Set("size", strconv.FormatInt(size, 10))
	}
	var out whisk.JobRegion
	err = c.call(ctx, request{method: http.MethodPut, path: path, query: q, auth: true}, &out)
	return out, err
}

// ReleaseRegion releases job's region: the job is done.
func (c *Client) ReleaseRegion(ctx context.Context, job string) error {
	path, err := c.regionPath(job)
	if err != nil {
		return err
	}
	return c.call(ctx, request{method: http.MethodDelete, path: path, auth: true}, nil)
}

// ListRegions lists the namespace's job regions.
func (c *Client) ListRegions(ctx context.Context) ([]whisk.JobRegion, error) {
	var out []whisk.JobRegion
	err := c.call(ctx, request{method: http.MethodGet, path: c.nsPath(c.cfg.Namespace, "regions"), auth: true}, &out)
	return out, err
}
