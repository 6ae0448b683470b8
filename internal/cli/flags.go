package cli

import (
	"fmt"
	"log/slog"
	"strings"

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
