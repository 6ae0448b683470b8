package cli

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/marvel-serverless/marvel/pmem"
)

// levelValue is the --log-level flag: a slog level by name.
type levelValue struct{ level slog.Level }

func (v *levelValue) String() string { return strings.ToLower(v.level.String()) }

func (v *levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("unknown log level %q: want debug, info, warn or error", s)
	}
	v.level = l
	return nil
}

func (v *levelValue) Type() string { return "level" }

// modeValue is the --pmem flag: how regions are mapped.
type modeValue struct{ mode pmem.Mode }

func (v *modeValue) String() string { return v.mode.String() }

func (v *modeValue) Set(s string) error {
	m, err := pmem.ParseMode(s)
	if err != nil {
		return err
	}
	v.mode = m
	return nil
}

func (v *modeValue) Type() string { return "mode" }

// sizeValue is a byte-count flag: "4194304", "4MiB", "4 MB".
type sizeValue struct{ n int64 }

func (v *sizeValue) String() string { return strconv.FormatInt(v.n, 10) }

func (v *sizeValue) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil || n > math.MaxInt64 {
		return fmt.Errorf("%q is not a byte count (e.g. 4194304, 4MiB, 64MB)", s)
	}
	v.n = int64(n)
	return nil
}

func (v *sizeValue) Type() string { return "bytes" }
