package harness

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// WriteTable writes the report's summary table to w: where it ran, then one
// row per workload × store with the median job time and its spread, the
// stages, the shuffle, GB-seconds and PMEM's speedup against that store.
func WriteTable(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	m := r.Machine
	fmt.Fprintf(bw, "machine: %s, %d cores, %s, Linux %s, %s\n", orDash(m.CPU), m.Cores, humanize.IBytes(uint64(max(m.MemoryBytes, 0))), orDash(m.Kernel), m.Go)
	if r.LoadStart >= 0 && r.LoadEnd >= 0 {
		fmt.Fprintf(bw, "load:    %.1f at the start, %.1f at the end (1-minute load average on %d cores; well above 0 at the start: other work shared them)\n",
			r.LoadStart, r.LoadEnd, m.Cores)
	}
	fmt.Fprintf(bw, "storage: %s\n", r.Storage.Summary)
	fmt.Fprintf(bw, "inputs:  %s; %d repetition(s), interleaved; %d task instances at once, %d MB each\n",
		inputsLine(r.Setup), r.Setup.Repeat, r.Setup.Concurrency, r.Setup.MemoryMB)
	fmt.Fprintln(bw)

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tstore\tmaps×reduces\tjob (median)\tmin–max\tmap stage\treduce stage\tshuffle write Σ\tshuffle read Σ\tshuffle share\tshuffled\tGB-s\tpmem speedup")
	for _, s := range r.Summaries {
		tasks := ""
		for _, run := range r.Runs {
			if run.Workload == s.Workload && run.Store == s.Store {
				tasks = fmt.Sprintf("%d×%d", run.Maps, run.Reduces)
				break
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s–%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\t%.1f\t%s\n",
			s.Workload, s.Store, tasks, secs(s.Median.Total), secs(s.JobMin), secs(s.JobMax),
			secs(s.Median.MapStage), secs(s.Median.ReduceStage), secs(s.Median.ShuffleWrite), secs(s.Median.ShuffleRead), 100*s.ShuffleShare,
			humanize.IBytes(uint64(s.BytesShuffled)), s.GBSeconds, speedupCell(r, s))
	}
	tw.Flush()
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "job: first invoke to last commit, median over repetitions; stages: wall time; shuffle Σ: summed over tasks;")
	fmt.Fprintln(bw, "shuffle share: of the summed task time, in the shuffle store (a store with share s can be beaten by at most about 1/(1-s));")
	fmt.Fprintln(bw, "GB-s: activation time × memory limit (OpenWhisk billing); pmem speedup: the store's median job time ÷ pmem's, same run.")
	if hasTargets(r) {
		fmt.Fprintln(bw, "targets (issue 6, sort at ≥ 4 GiB): pmem ≥ 3× s3, ≥ 1.5× redis, ≥ 2× disk.")
	}
	return bw.Flush()
}

func speedupCell(r *Report, s Summary) string {
	if s.Store == shuffle.KindPMEM {
		return "—"
	}
	sp, ok := r.speedup(s.Workload, s.Store)
	if !ok {
		return ""
	}
	cell := fmt.Sprintf("%.2f×", sp.Ratio)
	if sp.Target > 0 {
		verdict := "met"
		if !sp.Met {
			verdict = "short"
		}
		if !sp.AtFullSize {
			verdict += ", below full size"
		}
		cell += fmt.Sprintf(" (target %g×: %s)", sp.Target, verdict)
	}
	return cell
}

func hasTargets(r *Report) bool {
	for _, sp := range r.Speedups {
		if sp.Target > 0 {
			return true
		}
	}
	return false
}

func inputsLine(s Setup) string {
	var parts []string
	var text []string
	for _, w := range s.Workloads {
		if w != mapreduce.Sort {
			text = append(text, w)
		}
	}
	if len(text) > 0 {
		parts = append(parts, fmt.Sprintf("text %s (%s)", humanize.IBytes(uint64(s.TextBytes)), strings.Join(text, ", ")))
	}
	if s.SortBytes > 0 {
		parts = append(parts, fmt.Sprintf("records %s (sort)", humanize.IBytes(uint64(s.SortBytes))))
	}
	return strings.Join(parts, ", ")
}

// secs formats d in seconds: "12.34s", "0.123s".
func secs(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0fs", s)
	case s >= 1:
		return fmt.Sprintf("%.2fs", s)
	default:
		return fmt.Sprintf("%.3fs", s)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
