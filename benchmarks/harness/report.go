package harness

import (
	"slices"
	"time"

	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/driver"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// Report is what a benchmark run measured, and where and how.
type Report struct {
	// Date is when the run started; Elapsed how long it took in all
	// (setup, inputs, every job and check).
	Date    time.Time     `json:"date"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Command is the command line that ran it.
	Command string  `json:"command"`
	Machine Machine `json:"machine"`
	// LoadStart and LoadEnd are the machine's 1-minute load average when
	// the run started and ended (-1: unknown): well above zero, other
	// processes shared the cores and the figures are noisier.
	LoadStart float64 `json:"load_start"`
	LoadEnd   float64 `json:"load_end"`
	Storage   Storage `json:"storage"`
	Setup     Setup   `json:"setup"`
	// Runs are every job, in the order they ran.
	Runs []RunResult `json:"runs"`
	// Summaries are one per workload × store, in workload then store
	// order; Speedups one per workload × baseline store.
	Summaries []Summary `json:"summaries"`
	Speedups  []Speedup `json:"speedups"`
}

// Setup is what the jobs were given.
type Setup struct {
	Workloads   []string      `json:"workloads"`
	Stores      []string      `json:"stores"` // labels, "redis+2ms"
	TextBytes   int64         `json:"text_bytes,omitempty"`
	SortBytes   int64         `json:"sort_bytes,omitempty"`
	Repeat      int           `json:"repeat"`
	Concurrency int           `json:"concurrency"`
	MemoryMB    int           `json:"memory_mb"`
	Latency     time.Duration `json:"latency_ns,omitempty"`
	Seed        int64         `json:"seed"`
	Vocab       int           `json:"vocab,omitempty"`
	GrepPattern string        `json:"grep_pattern,omitempty"`
}

// RunResult is one job: a workload on a store in one repetition. The
// driver's Result is inlined: its Total is the job time (first invoke to
// last commit), the stages are wall times, the shuffle and compute times and
// TaskTime are summed over tasks, and GBSeconds is TaskTime × the memory
// limit.
type RunResult struct {
	Seq     int       `json:"seq"` // 1, 2, ... in the order run
	Repeat  int       `json:"repeat"`
	Store   string    `json:"store"` // label: kind, "+latency" if injected
	Started time.Time `json:"started"`
	driver.Result
	// OutputSHA256 is the digest of the output's parts concatenated,
	// equal for every run of the workload.
	OutputSHA256 string `json:"output_sha256"`
}

// Summary is the runs of one workload on one store: medians, and the
// spread of the job time.
type Summary struct {
	Workload string `json:"workload"`
	Store    string `json:"store"`
	Runs     int    `json:"runs"`
	// Median holds the median of each time over the runs (Median.Total
	// the job's); JobMin and JobMax the spread of the job time.
	Median        driver.Times  `json:"median"`
	JobMin        time.Duration `json:"job_min_ns"`
	JobMax        time.Duration `json:"job_max_ns"`
	BytesShuffled int64         `json:"bytes_shuffled"`
	GBSeconds     float64       `json:"gb_seconds_median"`
	// ShuffleShare is the median share of the task time spent in the
	// shuffle store (write and read): the most any store could gain
	// over this one is about 1/(1-ShuffleShare), the rest being the same
	// computing and input and output for every store.
	ShuffleShare float64 `json:"shuffle_share_median"`
}

// Speedup is PMEM against one baseline store on one workload: the
// baseline's median job time over PMEM's, from the same benchmark run.
type Speedup struct {
	Workload string        `json:"workload"`
	Baseline string        `json:"baseline"`
	PMEM     time.Duration `json:"pmem_median_ns"`
	Other    time.Duration `json:"baseline_median_ns"`
	Ratio    float64       `json:"ratio"`
	// Target is the goal for this ratio (sort at full size, no
	// injected latency), 0 if none; Met whether Ratio reaches it.
	Target float64 `json:"target,omitempty"`
	Met    bool    `json:"met,omitempty"`
	// AtFullSize is whether the input was at least FullSize, the size the
	// targets are stated for.
	AtFullSize bool `json:"at_full_size"`
}

// Targets are the goals for PMEM's speedup on sort at full size,
// by baseline store kind.
var Targets = map[string]float64{shuffle.KindS3: 3, shuffle.KindRedis: 1.5, shuffle.KindDisk: 2}

// Summarize computes r.Summaries and r.Speedups from r.Runs and r.Setup
// (Run does; call it again after changing the runs, e.g. merging reports).
func (r *Report) Summarize() {
	r.Summaries, r.Speedups = nil, nil
	for _, w := range r.Setup.Workloads {
		for _, s := range r.Setup.Stores {
			var runs []RunResult
			for _, run := range r.Runs {
				if run.Workload == w && run.Store == s {
					runs = append(runs, run)
				}
			}
			if len(runs) == 0 {
				continue
			}
			jobs := pick(runs, func(x RunResult) time.Duration { return x.Total })
			times := func(f func(driver.Times) time.Duration) time.Duration {
				return median(pick(runs, func(x RunResult) time.Duration { return f(x.Times) }))
			}
			r.Summaries = append(r.Summaries, Summary{
				Workload: w, Store: s, Runs: len(runs),
				Median: driver.Times{
					Total:         median(jobs),
					MapStage:      times(func(t driver.Times) time.Duration { return t.MapStage }),
					ReduceStage:   times(func(t driver.Times) time.Duration { return t.ReduceStage }),
					ShuffleWrite:  times(func(t driver.Times) time.Duration { return t.ShuffleWrite }),
					ShuffleRead:   times(func(t driver.Times) time.Duration { return t.ShuffleRead }),
					MapCompute:    times(func(t driver.Times) time.Duration { return t.MapCompute }),
					ReduceCompute: times(func(t driver.Times) time.Duration { return t.ReduceCompute }),
					TaskTime:      times(func(t driver.Times) time.Duration { return t.TaskTime }),
				},
				JobMin: slices.Min(jobs), JobMax: slices.Max(jobs),
				BytesShuffled: median(pick(runs, func(x RunResult) int64 { return x.BytesShuffled })),
				GBSeconds:     median(pick(runs, func(x RunResult) float64 { return x.GBSeconds })),
				ShuffleShare:  median(pick(runs, shuffleShare)),
			})
		}
	}
	for _, w := range r.Setup.Workloads {
		pm, ok := r.summary(w, shuffle.KindPMEM)
		if !ok || pm.Median.Total <= 0 {
			continue
		}
		full := atFullSize(r.Setup.TextBytes)
		if w == mapreduce.Sort {
			full = atFullSize(r.Setup.SortBytes)
		}
		for _, s := range r.Setup.Stores {
			if s == shuffle.KindPMEM {
				continue
			}
			b, ok := r.summary(w, s)
			if !ok {
				continue
			}
			sp := Speedup{Workload: w, Baseline: s, PMEM: pm.Median.Total, Other: b.Median.Total,
				Ratio: float64(b.Median.Total) / float64(pm.Median.Total), AtFullSize: full}
			if w == mapreduce.Sort {
				sp.Target = Targets[s] // a label with "+latency" has none
				sp.Met = sp.Target > 0 && sp.Ratio >= sp.Target
			}
			r.Speedups = append(r.Speedups, sp)
		}
	}
}

// atFullSize reports whether an input of n bytes is at FullSize: a sort
// input of FullSize rounded down to whole records is.
func atFullSize(n int64) bool { return n > FullSize-mapreduce.RecordSize }

// summary returns the summary of workload w on store s.
func (r *Report) summary(w, s string) (Summary, bool) {
	for _, x := range r.Summaries {
		if x.Workload == w && x.Store == s {
			return x, true
		}
	}
	return Summary{}, false
}

// speedup returns PMEM's speedup against store s on workload w.
func (r *Report) speedup(w, s string) (Speedup, bool) {
	for _, x := range r.Speedups {
		if x.Workload == w && x.Baseline == s {
			return x, true
		}
	}
	return Speedup{}, false
}

// shuffleShare is the share of a run's task time spent in the shuffle
// store.
func shuffleShare(x RunResult) float64 {
	if x.TaskTime <= 0 {
		return 0
	}
	return min(float64(x.ShuffleWrite+x.ShuffleRead)/float64(x.TaskTime), 1)
}

func pick[T any](runs []RunResult, f func(RunResult) T) []T {
	out := make([]T, len(runs))
	for i, r := range runs {
		out[i] = f(r)
	}
	return out
}

// median is the middle value, or the mean of the two middle values.
func median[T time.Duration | int64 | float64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
