package flush

import "strconv"

// CacheLine is the write-back granularity in bytes: every primitive in this
// package operates on whole, naturally aligned 64-byte cache lines.
const CacheLine = 64

// Instr is a cache-line write-back instruction.
type Instr uint8

// The write-back instructions, in increasing order of preference.
const (
	// InstrNone performs no write-back at all. It is what Best reports on
	// architectures without user-level cache-line write-back support.
	InstrNone Instr = iota
	// InstrCLFLUSH writes back and invalidates a line; successive CLFLUSHes
	// are serialised with respect to each other (slow on large ranges).
	InstrCLFLUSH
	// InstrCLFLUSHOPT writes back and invalidates a line; it is weakly
	// ordered, so many of them can be in flight until the next Fence.
	InstrCLFLUSHOPT
	// InstrCLWB writes back a line and may keep it (clean) in the cache; it
	// is weakly ordered like CLFLUSHOPT.
	InstrCLWB
)

var instrNames = [...]string{
	InstrNone:       "none",
	InstrCLFLUSH:    "clflush",
	InstrCLFLUSHOPT: "clflushopt",
	InstrCLWB:       "clwb",
}

// String returns the lower-case mnemonic: "none", "clflush", "clflushopt" or
// "clwb". Values outside the defined range are rendered as "Instr(N)".
func (i Instr) String() string {
	if int(i) < len(instrNames) {
		return instrNames[i]
	}
	return "Instr(" + strconv.Itoa(int(i)) + ")"
}

// Detected once, at package initialisation, by the architecture-specific
// detect (CPUID on amd64). Never written afterwards, so reads need no
// synchronisation.
var (
	best      Instr
	supported [len(instrNames)]bool
)

func init() {
	best, supported = detect()
	supported[InstrNone] = true
}

// Best returns the preferred write-back instruction of this CPU, chosen once
// at package initialisation: InstrCLWB if available, else InstrCLFLUSHOPT,
// else InstrCLFLUSH. It is InstrNone on architectures other than amd64, where
// callers must make data durable with msync(2) instead.
func Best() Instr { return best }

// Supported reports whether this CPU can execute i. InstrNone is always
// supported; out-of-range values never are.
func Supported(i Instr) bool {
	return int(i) < len(supported) && supported[i]
}

// Flush initiates the write-back of every cache line that overlaps b, using
// Best. It does not wait for completion and issues no fence: the write-back
// is only guaranteed to have reached the persistence domain after a
// subsequent Fence. Flush of an empty slice is a no-op.
//
// On architectures other than amd64 Flush is a no-op; use msync(2) there.
func Flush(b []byte) {
	if len(b) == 0 {
		return
	}
	flushLines(best, b)
}

// FlushWith is Flush with an explicitly chosen instruction, meant for tests
// and benchmarks. If the CPU cannot execute i (see Supported), Best is used
// instead. FlushWith(InstrNone, b) does nothing.
func FlushWith(i Instr, b []byte) {
	if len(b) == 0 {
		return
	}
	if !Supported(i) {
		i = best
	}
	flushLines(i, b)
}
