package harness

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/mapreduce"
	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

// Input sizes of the two presets.
const (
	// FullSize is each input's size by default: the "full size",
	// at which the sort targets apply.
	FullSize = 4 << 30
	// QuickSize is each input's size with QuickOptions: about 100 MiB of
	// input in all (the text, shared by wordcount and grep, and the sort
	// records).
	QuickSize = 48 << 20
)

// Defaults of Options.
const (
	// DefaultSplit is the input each map task reads when Mappers is 0.
	DefaultSplit = 64 << 20
	// DefaultMemoryMB is the task action's memory limit, the unit of
	// GB-seconds (OpenWhisk's largest, which a 64 MiB sort split needs).
	DefaultMemoryMB = invoker.MaxMemoryMB
	// DefaultGrepPattern matches the words holding a q.
	DefaultGrepPattern = `\b[a-z]*q[a-z]*\b`
	// DefaultVocab is the number of distinct words of the text.
	DefaultVocab = 50000
)

// Options configure a benchmark run. DefaultOptions gives the full run,
// QuickOptions the smoke run; zero fields take the defaults documented on
// them when Run fills them.
type Options struct {
	// Workloads run, in this order within a repetition (default
	// wordcount, sort, grep).
	Workloads []string
	// Stores each workload runs on, in this order (default pmem, redis,
	// s3, disk). The first store's output of a workload is the reference
	// every other run of it must equal, byte for byte.
	Stores []string
	// TextSize is the bytes of Zipf text wordcount and grep read, SortSize
	// the bytes of 100-byte sort records (rounded down to whole records).
	TextSize, SortSize int64
	// Repeat is how many times every workload × store runs (default 1).
	Repeat int
	// Mappers and Reducers of every job; 0 chooses from the input's size:
	// one mapper per DefaultSplit (4 to 256), half as many reducers (2 to
	// 128).
	Mappers, Reducers int
	// Concurrency is how many task instances run at once (default two per
	// CPU core).
	Concurrency int
	// Latency is injected before every request to the redis and s3 stores
	// (remote-store emulation; such stores are labelled "redis+2ms").
	Latency time.Duration
	// MemoryMB is the task action's memory limit (default
	// DefaultMemoryMB): the unit of GB-seconds.
	MemoryMB int
	// Data is the stack's data directory: regions, the namespace's files
	// (inputs, outputs, the pmem shuffle store). Empty: a new directory
	// under /dev/shm (tmpfs, where PMEM is emulated at memory speed),
	// removed at the end unless Keep.
	Data string
	// Scratch holds the disk store (fsynced files) and the redis and S3
	// servers' directories; it should be on a real disk. Empty: a new
	// directory under /var/tmp, removed at the end unless Keep.
	Scratch string
	// Keep keeps the directories Run created.
	Keep bool
	// Binary is the marvel executable the runtime instances and the task
	// action run (required).
	Binary string
	// Seed makes the inputs: the text from Seed, the records from Seed+1
	// (default 1).
	Seed int64
	// Vocab is the text's distinct words (default DefaultVocab).
	Vocab int
	// GrepPattern is grep's regular expression (default
	// DefaultGrepPattern).
	GrepPattern string
	// Command is the command line recorded in the report.
	Command string
	// Getenv gives the runtime instances' environment (nil: os.Getenv).
	Getenv func(string) string
	// Logger receives the stack's logs (nil: none).
	Logger *slog.Logger
}

// DefaultOptions returns the full run: every workload on every store at
// FullSize, three repetitions.
func DefaultOptions() Options {
	return Options{
		Workloads: []string{mapreduce.WordCount, mapreduce.Sort, mapreduce.Grep},
		Stores:    []string{shuffle.KindPMEM, shuffle.KindRedis, shuffle.KindS3, shuffle.KindDisk},
		TextSize:  FullSize,
		SortSize:  FullSize,
		Repeat:    3,
	}
}

// QuickOptions returns the smoke run: every workload on every store at
// QuickSize, once.
func QuickOptions() Options {
	o := DefaultOptions()
	o.TextSize, o.SortSize, o.Repeat = QuickSize, QuickSize, 1
	return o
}

// fill sets the defaults of zero fields.
func (o *Options) fill() {
	d := DefaultOptions()
	if len(o.Workloads) == 0 {
		o.Workloads = d.Workloads
	}
	if len(o.Stores) == 0 {
		o.Stores = d.Stores
	}
	if o.Repeat == 0 {
		o.Repeat = 1
	}
	if o.Concurrency == 0 {
		o.Concurrency = 2 * runtime.NumCPU()
	}
	if o.MemoryMB == 0 {
		o.MemoryMB = DefaultMemoryMB
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Vocab == 0 {
		o.Vocab = DefaultVocab
	}
	if o.GrepPattern == "" {
		o.GrepPattern = DefaultGrepPattern
	}
}

// Validate reports every problem of o at once, each wrapping
// ErrInvalidOptions.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	for _, w := range o.Workloads {
		if !slices.Contains(mapreduce.Workloads(), w) {
			bad("workload %q: want %s", w, strings.Join(mapreduce.Workloads(), ", "))
		}
	}
	if dup := duplicate(o.Workloads); dup != "" {
		bad("workload %q is listed twice", dup)
	}
	for _, s := range o.Stores {
		if !slices.Contains(shuffle.Kinds, s) {
			bad("store %q: want %s", s, strings.Join(shuffle.Kinds, ", "))
		}
	}
	if dup := duplicate(o.Stores); dup != "" {
		bad("store %q is listed twice", dup)
	}
	if o.needsText() && o.TextSize < 1 {
		bad("text size %d: want at least 1 byte", o.TextSize)
	}
	if o.needsSort() && o.SortSize < mapreduce.RecordSize {
		bad("sort size %d: want at least one %d-byte record", o.SortSize, mapreduce.RecordSize)
	}
	if o.Repeat < 0 {
		bad("repeat %d: want at least 1", o.Repeat)
	}
	if o.Mappers < 0 || o.Reducers < 0 || o.Mappers > mapreduce.MaxTasks || o.Reducers > mapreduce.MaxTasks {
		bad("%d mappers and %d reducers: want 1 to %d each (0: chosen from the size)", o.Mappers, o.Reducers, mapreduce.MaxTasks)
	}
	if o.Concurrency < 0 || o.Concurrency > invoker.MaxConcurrency {
		bad("concurrency %d: want 1 to %d", o.Concurrency, invoker.MaxConcurrency)
	}
	if o.Latency < 0 {
		bad("latency %v is negative", o.Latency)
	}
	if o.MemoryMB != 0 && (o.MemoryMB < invoker.MinMemoryMB || o.MemoryMB > invoker.MaxMemoryMB) {
		bad("memory %d MB: want %d to %d", o.MemoryMB, invoker.MinMemoryMB, invoker.MaxMemoryMB)
	}
	if o.Binary == "" {
		bad("the marvel executable (Binary) is required")
	} else if !filepath.IsAbs(o.Binary) {
		bad("the marvel executable %q is not an absolute path", o.Binary)
	}
	if o.Vocab < 0 {
		bad("vocabulary %d: want at least 1 word", o.Vocab)
	}
	if o.GrepPattern != "" {
		if _, err := regexp.Compile(o.GrepPattern); err != nil {
			bad("grep pattern: %w", err)
		}
	}
	return errors.Join(errs...)
}

func (o Options) needsText() bool {
	return slices.Contains(o.Workloads, mapreduce.WordCount) || slices.Contains(o.Workloads, mapreduce.Grep) || len(o.Workloads) == 0
}

func (o Options) needsSort() bool {
	return slices.Contains(o.Workloads, mapreduce.Sort) || len(o.Workloads) == 0
}

// inputSize is the input of workload w.
func (o Options) inputSize(w string) int64 {
	if w == mapreduce.Sort {
		return o.SortSize / mapreduce.RecordSize * mapreduce.RecordSize
	}
	return o.TextSize
}

// tasks returns the mappers and reducers of a job over size bytes.
func (o Options) tasks(size int64) (mappers, reducers int) {
	mappers, reducers = o.Mappers, o.Reducers
	if mappers == 0 {
		mappers = int(min(max((size+DefaultSplit-1)/DefaultSplit, 4), 256))
	}
	if reducers == 0 {
		reducers = min(max(mappers/2, 2), 128)
	}
	return mappers, reducers
}

func duplicate(list []string) string {
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}
