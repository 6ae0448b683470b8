package invoker

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/pmem"
	"github.com/marvel-serverless/marvel/runtime/proxy"
)

// JobRegion is a job-scoped region: capacity in the PMEM pool that a job
// (its shuffle data) holds under a lease it renews. It is released when the
// job says it is done, or reclaimed once the job stops renewing it for a
// lease and a grace period. It is never pinned.
type JobRegion = whisk.JobRegion

// jobGrant is a job region the invoker granted.
type jobGrant struct {
	ns, job string
	size    int64
	lease   *pmem.Lease
}

// ErrNoJob is a job that holds no region.
var ErrNoJob = errors.New("no region is granted to this job")

// jobRegionName is the region of job in namespace ns; the escaping keeps
// the mapping one-to-one and apart from actions' regions.
func jobRegionName(ns, job string) (string, error) {
	if err := whisk.ValidName(ns); err != nil {
		return "", fmt.Errorf("namespace: %w", err)
	}
	if err := whisk.ValidName(job); err != nil {
		return "", fmt.Errorf("job: %w", err)
	}
	name := "job+" + proxy.EscapeName(ns) + "+" + proxy.EscapeName(job)
	if err := pmem.ValidName(name); err != nil {
		return "", fmt.Errorf("job name %q is too long for a region: %w", job, err)
	}
	return name, nil
}

// GrantJob grants job in namespace ns a region of size bytes, or renews the
// grant it holds. The first grant fails with an error wrapping
// pmem.ErrNoCapacity when the pool is short.
func (v *Invoker) GrantJob(ns, job string, size int64) (JobRegion, error) {
	name, err := jobRegionName(ns, job)
	if err != nil {
		return JobRegion{}, err
	}
	v.mu.Lock()
	g := v.jobs[name]
	v.mu.Unlock()
	if g != nil {
		if err := g.lease.Renew(); err == nil {
			return g.region(), nil
		}
		// Lapsed: grant afresh below.
	}
	l, err := v.pool.Grant(pmem.GrantRequest{Owner: trimOwner("job:" + ns + "/" + job), Name: name, Size: size, Handoff: true})
	if err != nil {
		return JobRegion{}, err
	}
	g = &jobGrant{ns: ns, job: job, size: size, lease: l}
	v.mu.Lock()
	v.jobs[name] = g
	v.mu.Unlock()
	return g.region(), nil
}

func (g *jobGrant) region() JobRegion {
	return JobRegion{Namespace: g.ns, Job: g.job, Region: g.lease.Name(), Size: g.size, Expires: g.lease.Expires()}
}

// ReleaseJob ends job's grant and deletes its region: the job is done.
func (v *Invoker) ReleaseJob(ns, job string) error {
	name, err := jobRegionName(ns, job)
	if err != nil {
		return err
	}
	v.mu.Lock()
	g := v.jobs[name]
	delete(v.jobs, name)
	v.mu.Unlock()
	if g == nil {
		return fmt.Errorf("%w: %s/%s", ErrNoJob, ns, job)
	}
	if err := g.lease.Release(false); err != nil && !errors.Is(err, pmem.ErrLeaseExpired) {
		return fmt.Errorf("release the region of job %s/%s: %w", ns, job, err)
	}
	return nil
}

// Jobs lists the job regions of namespace ns that the pool still holds
// (a region whose lease lapsed past its grace is gone).
func (v *Invoker) Jobs(ns string) []JobRegion {
	held := map[string]bool{}
	for _, r := range v.pool.Regions() {
		held[r.Name] = true
	}
	v.mu.Lock()
	var out []JobRegion
	for name, g := range v.jobs {
		if g.ns != ns {
			continue
		}
		if !held[name] {
			delete(v.jobs, name) // reclaimed
			continue
		}
		out = append(out, g.region())
	}
	v.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out
}

// trimOwner bounds a pool owner to its 62 bytes.
func trimOwner(o string) string {
	if len(o) > 62 {
		o = o[:62]
	}
	return strings.ToValidUTF8(o, "_")
}
