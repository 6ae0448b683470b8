package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/pmem"
)

// lsEntry is one row of `marvel pmem ls`, and its JSON form. A region that
// did not open has no details, only its error.
type lsEntry struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Size  int64  `json:"size"` // bytes: the region's, or its file's if it did not open (-1: unknown)
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	*lsDetail
}

// lsDetail is known only from an open region.
type lsDetail struct {
	Mode   string `json:"mode"`
	Used   int64  `json:"used"`
	Keys   int    `json:"keys"`
	Owner  string `json:"owner"`
	Pinned bool   `json:"pinned"`
}

func (p *pmemCmd) lsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls DIR",
		Short: "List the regions of a namespace directory",
		Long: `List the regions of namespace directory DIR with their mode, size, space used,
number of keys, owner, pinning and state. Each region is opened read-only; a
region that does not open is still listed, with why in the STATE column:
"in use" (held read-write by a running process), "corrupt: ...",
"truncated", "missing" or "error: ...". Opening verifies the headers and every
record header; run "marvel pmem check" to verify values too.`,
		Example: `  marvel pmem ls /mnt/pmem/marvel
  marvel pmem ls --json /mnt/pmem/marvel`,
		Args: p.usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.ls(cmd.Context(), args[0], asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

func (p *pmemCmd) lsOne(name, path string) lsEntry {
	e := lsEntry{Name: name, Path: path}
	s, err := pmem.OpenPath(path, p.options())
	if err != nil {
		p.logger().Info("region did not open", "path", path, "err", err)
		e.Size, e.State, e.Error = fileSize(path), state(err), describeErr(err)
		return e
	}
	defer s.Close()
	info, st := s.Info(), s.Stats()
	e.Size, e.State = info.Size, state(nil)
	e.lsDetail = &lsDetail{Mode: info.Mode.String(), Used: st.UsedBytes(), Keys: st.Keys, Owner: info.Owner, Pinned: info.Pinned}
	return e
}

func writeLsTable(p *pmemCmd, entries []lsEntry) error {
	tw := newTable(p.out())
	fmt.Fprintln(tw, "NAME\tMODE\tSIZE\tUSED\tKEYS\tOWNER\tPINNED\tSTATE")
	for _, e := range entries {
		mode, used, keys, owner, pinned := "-", "-", "-", "-", "-"
		if d := e.lsDetail; d != nil {
			mode, used, keys, owner, pinned = d.Mode, humanBytes(d.Used), strconv.Itoa(d.Keys), orDash(printable(d.Owner)), yesNo(d.Pinned)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, mode, humanBytes(e.Size), used, keys, owner, pinned, e.State)
	}
	return tw.Flush()
}

// ls lists the regions of namespace directory dir on the command output.
func (p *pmemCmd) ls(ctx context.Context, dir string, asJSON bool) error {
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("pmem ls: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("pmem ls: %s is not a namespace directory (for a single region use: marvel pmem info %s)", dir, dir)
	}
	names, err := pmem.List(dir)
	if err != nil {
		return err
	}
	entries := make([]lsEntry, 0, len(names))
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		path, err := pmem.RegionPath(dir, n)
		if err != nil {
			return err
		}
		entries = append(entries, p.lsOne(n, path))
	}
	if asJSON {
		return writeJSON(p.out(), entries)
	}
	return writeLsTable(p, entries)
}
