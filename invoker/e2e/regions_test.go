package e2e

import (
	"errors"
	"net/http"
	"testing"

	"github.com/marvel-serverless/marvel/invoker/client"
)

// TestJobRegions: a job takes PMEM capacity under a lease by PUT, renews by
// PUT, lists, and gives it back by DELETE; another namespace never sees it.
func TestJobRegions(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t), "--pmem-capacity", "8MiB", "--region-size", "4MiB")
	defer s.Stop()

	r := s.guest(t, "PUT", "/api/v1/namespaces/_/regions/sort-42?size=1048576", nil)
	wantStatus(t, "grant", r, http.StatusOK)
	m := object(t, "grant", r)
	wantFields(t, "grant", m, map[string]string{"namespace": "string", "job": "string", "region": "string", "size": "number", "expires": "string"})
	if m["region"] != "job+guest+sort-42" || m["size"] != float64(1<<20) {
		t.Fatalf("grant: %s", r)
	}
	wantStatus(t, "renew", s.guest(t, "PUT", "/api/v1/namespaces/_/regions/sort-42", nil), http.StatusOK)
	if l := array(t, "list", s.guest(t, "GET", "/api/v1/namespaces/_/regions", nil)); len(l) != 1 {
		t.Fatalf("list: %v", l)
	}
	if l := array(t, "other's list", s.do(t, otherKey, "GET", "/api/v1/namespaces/_/regions", nil)); len(l) != 0 {
		t.Fatalf("another namespace sees guest's job: %v", l)
	}
	wantStatus(t, "other's path", s.do(t, otherKey, "DELETE", "/api/v1/namespaces/guest/regions/sort-42", nil), http.StatusForbidden)
	wantStatus(t, "other's release", s.do(t, otherKey, "DELETE", "/api/v1/namespaces/_/regions/sort-42", nil), http.StatusNotFound)

	r = s.guest(t, "PUT", "/api/v1/namespaces/_/regions/huge?size=1073741824", nil)
	wantStatus(t, "over capacity", r, http.StatusServiceUnavailable)
	wantStatus(t, "bad size", s.guest(t, "PUT", "/api/v1/namespaces/_/regions/x?size=-1", nil), http.StatusBadRequest)

	wantStatus(t, "release", s.guest(t, "DELETE", "/api/v1/namespaces/_/regions/sort-42", nil), http.StatusOK)
	wantStatus(t, "release again", s.guest(t, "DELETE", "/api/v1/namespaces/_/regions/sort-42", nil), http.StatusNotFound)
	if l := array(t, "list after", s.guest(t, "GET", "/api/v1/namespaces/_/regions", nil)); len(l) != 0 {
		t.Fatalf("list after release: %v", l)
	}

	// The same through the project's client.
	c := s.client(t, guestKey)
	g, err := c.GrantRegion(ctx(t), "grep-7", 2<<20)
	if err != nil || g.Region != "job+guest+grep-7" || g.Size != 2<<20 || g.Expires.IsZero() {
		t.Fatalf("GrantRegion: %+v, %v", g, err)
	}
	if l, err := c.ListRegions(ctx(t)); err != nil || len(l) != 1 || l[0].Job != "grep-7" {
		t.Fatalf("ListRegions: %+v, %v", l, err)
	}
	if err := c.ReleaseRegion(ctx(t), "grep-7"); err != nil {
		t.Fatalf("ReleaseRegion: %v", err)
	}
	var ce *client.Error
	if err := c.ReleaseRegion(ctx(t), "grep-7"); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Fatalf("ReleaseRegion again: %v", err)
	}
}
