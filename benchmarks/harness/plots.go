package harness

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot formats WritePlots draws.
const (
	PlotPNG  = "png"
	PlotSVG  = "svg"
	PlotNone = "none"
)

// Plot files WritePlots writes, with the format's extension.
const (
	PlotJobTime  = "jobtime"  // median job time per store, grouped by workload
	PlotStages   = "stages"   // map and reduce stage wall times, stacked
	PlotTaskTime = "tasktime" // map compute, shuffle write, shuffle read, reduce compute summed over tasks, stacked
)

// WritePlots draws the report's plots into dir in format (PlotPNG or
// PlotSVG; PlotNone draws nothing) with gonum.org/v1/plot and returns the
// files written.
func WritePlots(dir string, r *Report, format string) ([]string, error) {
	switch format {
	case PlotNone:
		return nil, nil
	case PlotPNG, PlotSVG:
	default:
		return nil, fmt.Errorf("%w: plot format %q: want png, svg or none", ErrInvalidOptions, format)
	}
	if len(r.Summaries) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("harness: plots directory: %w", err)
	}
	var files []string
	for _, d := range []struct {
		name string
		draw func(*Report) (*plot.Plot, vg.Length, error)
	}{
		{PlotJobTime, jobTimePlot},
		{PlotStages, stagesPlot},
		{PlotTaskTime, taskTimePlot},
	} {
		p, width, err := d.draw(r)
		if err != nil {
			return files, fmt.Errorf("harness: plot %s: %w", d.name, err)
		}
		wt, err := p.WriterTo(width, 4*vg.Inch, format)
		if err != nil {
			return files, fmt.Errorf("harness: plot %s: %w", d.name, err)
		}
		path := filepath.Join(dir, d.name+"."+format)
		if err := writeWith(path, func(f *os.File) error { _, err := wt.WriteTo(f); return err }); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

// jobTimePlot: for each workload a group of bars, one per store, the
// median job time.
func jobTimePlot(r *Report) (*plot.Plot, vg.Length, error) {
	p := newPlot(r, "Job time by shuffle store (median)", "job time (s)")
	stores := r.Setup.Stores
	width := vg.Points(max(60/float64(len(stores)), 10))
	top := 0.0
	for i, s := range stores {
		vs := make(plotter.Values, len(r.Setup.Workloads))
		for j, w := range r.Setup.Workloads {
			if sum, ok := r.summary(w, s); ok {
				vs[j] = sum.Median.Total.Seconds()
				top = max(top, vs[j])
			}
		}
		b, err := plotter.NewBarChart(vs, width)
		if err != nil {
			return nil, 0, err
		}
		b.LineStyle.Width = 0
		b.Color = storeColor(s, i)
		b.Offset = vg.Length(float64(i)-float64(len(stores)-1)/2) * width
		p.Add(b)
		p.Legend.Add(s, b)
	}
	p.NominalX(r.Setup.Workloads...)
	frame(p, len(r.Setup.Workloads), top)
	return p, vg.Length(max(6, 1.2*float64(len(r.Setup.Workloads))+2)) * vg.Inch, nil
}

// stagesPlot: per workload × store, the map stage and the reduce stage
// (wall times) stacked: together about the job time.
func stagesPlot(r *Report) (*plot.Plot, vg.Length, error) {
	p := newPlot(r, "Stage wall times (median)", "time (s)")
	return stacked(p, r, []layer{
		{"map stage", func(s Summary) time.Duration { return s.Median.MapStage }},
		{"reduce stage", func(s Summary) time.Duration { return s.Median.ReduceStage }},
	})
}

// taskTimePlot: per workload × store, the tasks' time summed by kind; the
// top layer is the rest of the activations' time (reading the input,
// writing the output, the runtime).
func taskTimePlot(r *Report) (*plot.Plot, vg.Length, error) {
	p := newPlot(r, "Task time summed over tasks (median)", "task time (s)")
	return stacked(p, r, []layer{
		{"map compute", func(s Summary) time.Duration { return s.Median.MapCompute }},
		{"shuffle write", func(s Summary) time.Duration { return s.Median.ShuffleWrite }},
		{"shuffle read", func(s Summary) time.Duration { return s.Median.ShuffleRead }},
		{"reduce compute", func(s Summary) time.Duration { return s.Median.ReduceCompute }},
		{"other: input, output, invocation", func(s Summary) time.Duration {
			return max(s.Median.TaskTime-s.Median.MapCompute-s.Median.ShuffleWrite-s.Median.ShuffleRead-s.Median.ReduceCompute, 0)
		}},
	})
}

type layer struct {
	name string
	of   func(Summary) time.Duration
}

// stacked draws one bar per summary with layers stacked bottom to top.
func stacked(p *plot.Plot, r *Report, layers []layer) (*plot.Plot, vg.Length, error) {
	names := make([]string, len(r.Summaries))
	for i, s := range r.Summaries {
		names[i] = s.Workload + "\n" + s.Store
	}
	var below *plotter.BarChart
	sums := make([]float64, len(r.Summaries))
	for i, l := range layers {
		vs := make(plotter.Values, len(r.Summaries))
		for j, s := range r.Summaries {
			vs[j] = l.of(s).Seconds()
			sums[j] += vs[j]
		}
		b, err := plotter.NewBarChart(vs, vg.Points(22))
		if err != nil {
			return nil, 0, err
		}
		b.LineStyle.Width = 0
		b.Color = plotutil.Color(i)
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(l.name, b)
	}
	p.NominalX(names...)
	frame(p, len(names), slices.Max(sums))
	return p, vg.Length(max(6, 0.55*float64(len(names))+2)) * vg.Inch, nil
}

func newPlot(r *Report, title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.X.Label.Text = caption(r.Storage.Summary)
	p.X.Label.TextStyle.Font.Size = vg.Points(8)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// frame leaves room for the legend above the highest bar (top) and half a
// category on each side of the n categories.
func frame(p *plot.Plot, n int, top float64) {
	p.X.Min, p.X.Max = -0.6, float64(n)-0.4
	if top > 0 {
		p.Y.Max = 1.35 * top
	}
}

// caption breaks the storage summary into lines of at most two clauses,
// so that it fits under a plot.
func caption(summary string) string {
	clauses := strings.Split(summary, "; ")
	var lines []string
	for i := 0; i < len(clauses); i += 2 {
		lines = append(lines, strings.Join(clauses[i:min(i+2, len(clauses))], "; "))
	}
	return strings.Join(lines, "\n")
}

// storeColor gives each store kind the same color in every plot.
func storeColor(s string, i int) color.Color {
	for j, k := range []string{"pmem", "redis", "s3", "disk"} {
		if len(s) >= len(k) && s[:len(k)] == k {
			return plotutil.Color(j)
		}
	}
	return plotutil.Color(4 + i)
}
