package invoker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the invoker's Prometheus metrics. With no registry they are
// kept but not exported.
type metrics struct {
	invocations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	wait        prometheus.Histogram
	initSeconds prometheus.Histogram
	cold, warm  prometheus.Counter
	crashes     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, v *Invoker) *metrics {
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marvel_invocations_total", Help: "Activations run, by namespace, action and status.",
		}, []string{"namespace", "action", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "marvel_activation_duration_seconds", Help: "Activation duration (init included on cold starts), by status.",
			Buckets: buckets,
		}, []string{"status"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marvel_activation_wait_seconds", Help: "Time from arrival until an instance took the activation (cold start excluded).", Buckets: buckets,
		}),
		initSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marvel_init_seconds", Help: "Cold start time: runtime start, region grant and /init.", Buckets: buckets,
		}),
		cold: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marvel_starts_cold_total", Help: "Activations that started a new instance.",
		}),
		warm: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marvel_starts_warm_total", Help: "Activations run on a warm instance, which holds the action's state cache (state cache hits).",
		}),
		crashes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marvel_instance_crashes_total", Help: "Runtime instances that exited without being stopped.",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.invocations, m.duration, m.wait, m.initSeconds, m.cold, m.warm, m.crashes)
	inst := func(name, help string, f func(InstanceStats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(f(v.Instances())) })
	}
	reg.MustRegister(
		inst("marvel_instances_idle", "Warm instances waiting for an activation.", func(s InstanceStats) int { return s.Idle }),
		inst("marvel_instances_busy", "Instances running an activation.", func(s InstanceStats) int { return s.Busy }),
		inst("marvel_instances_starting", "Instances being started.", func(s InstanceStats) int { return s.Starting }),
		inst("marvel_memory_used_megabytes", "Memory limits of live instances, against the node budget.", func(s InstanceStats) int { return s.MemoryMB }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "marvel_memory_budget_megabytes", Help: "The node's memory budget for instances."},
			func() float64 { return float64(v.cfg.MemoryMB) }),
	)
	pool := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		pool("marvel_pmem_capacity_bytes", "PMEM pool budget.", func() float64 { return float64(v.pool.Stats().Capacity) }),
		pool("marvel_pmem_reserved_bytes", "PMEM reserved by granted and kept regions.", func() float64 { return float64(v.pool.Stats().Reserved) }),
		pool("marvel_pmem_used_bytes", "PMEM the regions occupy.", func() float64 { return float64(v.pool.Stats().Used) }),
		pool("marvel_pmem_regions", "Regions in the pool.", func() float64 { return float64(v.pool.Stats().Regions) }),
		pool("marvel_pmem_leased_regions", "Regions under a live lease.", func() float64 { return float64(v.pool.Stats().Leased) }),
		pool("marvel_activation_records", "Activation records kept.", func() float64 { return float64(v.records.Stats().Activations) }),
	)
	return m
}

func (m *metrics) observe(ns, action, status string, d, wait time.Duration) {
	m.invocations.WithLabelValues(ns, action, status).Inc()
	m.duration.WithLabelValues(status).Observe(d.Seconds())
	m.wait.Observe(wait.Seconds())
}
