package e2e

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/marvel-serverless/marvel/invoker"
)

// metricLineRE is a sample of Prometheus' text format: name, labels, value.
var metricLineRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// metrics fetches /metrics (no auth) and returns each sample by its name
// and labels as printed, e.g. `marvel_starts_cold_total` or
// `marvel_invocations_total{action="m",namespace="guest",status="success"}`.
func (s *standalone) metrics(t testing.TB) map[string]float64 {
	t.Helper()
	r := s.do(t, "", http.MethodGet, "/metrics", nil)
	wantStatus(t, "metrics", r, http.StatusOK)
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := metricLineRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("metrics: line %q is not a sample", line)
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Errorf("metrics: line %q: %v", line, err)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// TestMetrics checks /metrics after cold and warm starts and a failure.
func TestMetrics(t *testing.T) {
	t.Parallel()
	s := startStandalone(t, newDataDir(t))
	before := s.metrics(t)
	for _, name := range []string{"marvel_starts_cold_total", "marvel_starts_warm_total", "marvel_pmem_capacity_bytes"} {
		if _, ok := before[name]; !ok {
			t.Errorf("metrics: no %s before any invoke", name)
		}
	}
	s.mustPut(t, "m", "probe", nil)
	s.mustPut(t, "n", "echo", nil)
	for range 3 {
		s.result(t, "m", map[string]any{"op": "echo"})
	}
	wantStatus(t, "failing invoke", s.invoke(t, "m", "blocking=true&result=true", map[string]any{"op": "fail", "message": "x"}), http.StatusBadGateway)
	s.result(t, "n", nil)

	after := s.metrics(t)
	for name, want := range map[string]float64{
		`marvel_invocations_total{action="m",namespace="guest",status="success"}`:           3,
		`marvel_invocations_total{action="m",namespace="guest",status="application error"}`: 1,
		`marvel_invocations_total{action="n",namespace="guest",status="success"}`:           1,
		"marvel_starts_cold_total":     before["marvel_starts_cold_total"] + 2,
		"marvel_starts_warm_total":     before["marvel_starts_warm_total"] + 3,
		"marvel_pmem_capacity_bytes":   float64(invoker.DefaultConfig().Capacity),
		"marvel_instances_idle":        2,
		"marvel_instances_busy":        0,
		"marvel_memory_used_megabytes": 2 * invoker.DefaultMemoryMB,
	} {
		if got, ok := after[name]; !ok || got != want {
			t.Errorf("metrics: %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if after["marvel_pmem_used_bytes"] <= 0 || after["marvel_pmem_regions"] < 2 {
		t.Errorf("metrics: PMEM used %v bytes in %v regions after two stateful actions ran", after["marvel_pmem_used_bytes"], after["marvel_pmem_regions"])
	}
	if after["marvel_activation_records"] != 5 {
		t.Errorf("metrics: marvel_activation_records = %v, want 5", after["marvel_activation_records"])
	}
}
