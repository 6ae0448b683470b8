package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/pmem"
)

// pmemCmd holds the flags shared by the `marvel pmem` commands.
type pmemCmd struct {
	*app
	mode modeValue
}

func (a *app) pmemCommand() *cobra.Command {
	p := &pmemCmd{app: a}
	cmd := a.group(&cobra.Command{
		Use:   "pmem",
		Short: "Inspect and check persistent-memory regions",
		Long: `Inspect and check the persistent-memory regions of a namespace: a directory
holding one NAME.region file per region (on a DAX filesystem, or any
filesystem when emulated), or a single region file or /dev/daxX.Y device.

Every region is opened read-only under a shared lock: these commands never
change a region, and a region held open read-write by a running process is
reported as "in use".`,
	})
	cmd.PersistentFlags().Var(&p.mode, "pmem", "how to map regions: auto, devdax, fsdax or emulated (env MARVEL_PMEM)")
	cmd.AddCommand(p.lsCommand(), p.infoCommand(), p.checkCommand(), p.counterCommand(), p.crashWriterCommand())
	return cmd
}

// target is one region to open.
type target struct {
	Name string // region name (file name without .region for a path)
	Path string // file or device
}

// options are the store options the inspection commands open regions with.
func (p *pmemCmd) options() pmem.Options {
	return pmem.Options{ReadOnly: true, Mode: p.mode.mode, Logger: p.logger()}
}

// targets resolves the DIR [NAME...] or PATH arguments of info and check.
func (p *pmemCmd) targets(cmd *cobra.Command, args []string) ([]target, error) {
	first := args[0]
	fi, err := os.Stat(first)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if !fi.IsDir() {
		if len(args) > 1 {
			return nil, p.usageErr(cmd, fmt.Errorf("%s is a region file or device, not a namespace directory: region names cannot follow it", first))
		}
		return []target{{Name: strings.TrimSuffix(filepath.Base(first), pmem.RegionExt), Path: first}}, nil
	}
	names := args[1:]
	if len(names) == 0 {
		if names, err = pmem.List(first); err != nil {
			return nil, err
		}
	}
	ts := make([]target, 0, len(names))
	for _, n := range names {
		n = strings.TrimSuffix(n, pmem.RegionExt)
		path, err := pmem.RegionPath(first, n)
		if err != nil {
			return nil, p.usageErr(cmd, err)
		}
		ts = append(ts, target{Name: n, Path: path})
	}
	return ts, nil
}

// regionArgs validates DIR [NAME...] | PATH.
func (p *pmemCmd) regionArgs() cobra.PositionalArgs {
	return p.usageArgs(cobra.MinimumNArgs(1))
}

// isDamage reports whether err means the region's bytes are bad, as opposed
// to the region being unavailable (in use, missing, wrong mode).
func isDamage(err error) bool {
	var ce *pmem.CorruptError
	return errors.As(err, &ce) || errors.Is(err, pmem.ErrCorrupt) ||
		errors.Is(err, pmem.ErrTruncated) || errors.Is(err, pmem.ErrVersion)
}

// state summarises the outcome of opening a region for a table cell:
// "ok", "in use", "corrupt: ...", "truncated: ...", "missing" or "error: ...".
func state(err error) string {
	var ce *pmem.CorruptError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, pmem.ErrLocked):
		return "in use"
	case errors.As(err, &ce):
		return fmt.Sprintf("%s: %s at %d: %s", kindWord(ce.Kind), ce.What, ce.Offset, shorten(ce.Reason))
	case errors.Is(err, pmem.ErrTruncated):
		return "truncated"
	case errors.Is(err, pmem.ErrNotExist), errors.Is(err, fs.ErrNotExist):
		return "missing"
	case errors.Is(err, pmem.ErrNotDAX):
		return "error: not DAX"
	case errors.Is(err, fs.ErrPermission):
		return "error: permission denied"
	default:
		return "error: " + shorten(trimPrefixes(err.Error()))
	}
}

func kindWord(kind error) string {
	switch {
	case errors.Is(kind, pmem.ErrTruncated):
		return "truncated"
	case errors.Is(kind, pmem.ErrVersion):
		return "unsupported"
	default:
		return "corrupt"
	}
}

// shorten keeps the gist of a reason for a table cell: up to its first
// parenthesis or comma, at most 60 bytes, cut at a space.
func shorten(s string) string {
	for _, sep := range []string{" (", ", "} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	const maxLen = 60
	if len(s) > maxLen {
		cut := strings.LastIndexByte(s[:maxLen-3], ' ')
		if cut <= 0 {
			cut = maxLen - 3
		}
		s = s[:cut] + "..."
	}
	return s
}

// trimPrefixes drops the "pmem: sentinel: " prefixes of a wrapped error.
func trimPrefixes(s string) string {
	for strings.HasPrefix(s, "pmem: ") {
		i := strings.Index(s[len("pmem: "):], ": ")
		if i < 0 {
			break
		}
		s = s[len("pmem: ")+i+2:]
	}
	return s
}

// describeErr is the full text of a problem. A *pmem.CorruptError is
// written without its advice to run `marvel pmem check`, which is redundant
// here; everything else as is.
func describeErr(err error) string {
	var ce *pmem.CorruptError
	if errors.As(err, &ce) {
		path := ce.Path
		if path == "" {
			path = "<memory>"
		}
		return fmt.Sprintf("%v: %s at offset %d of %s: %s", ce.Kind, ce.What, ce.Offset, path, ce.Reason)
	}
	return err.Error()
}

// fileSize is the size of path on disk, or -1.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}
