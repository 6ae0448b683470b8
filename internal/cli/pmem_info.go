package cli

import (
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/pmem"
)

// infoEntry is what `marvel pmem info` reports about one region, and its
// JSON form. A region that did not open has no details, only its error.
type infoEntry struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	*infoDetail
}

// infoDetail is known only from an open region.
type infoDetail struct {
	Mode          string    `json:"mode"`         // as mapped now
	CreatedMode   string    `json:"created_mode"` // as mapped when created
	Method        string    `json:"persistence"`
	FormatVersion uint32    `json:"format_version"`
	UUID          string    `json:"uuid"`
	Owner         string    `json:"owner"`
	Pinned        bool      `json:"pinned"`
	Created       time.Time `json:"created"`
	Generation    uint64    `json:"root_generation"`
	Size          int64     `json:"size"`
	Used          int64     `json:"used"`
	Free          int64     `json:"free"`
	Live          int64     `json:"live"`
	Garbage       int64     `json:"garbage"`
	Keys          int       `json:"keys"`
	LogStart      int64     `json:"log_start"`
	LogTail       int64     `json:"log_tail"`
	LogEnd        int64     `json:"log_end"`
}

func (p *pmemCmd) infoCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info DIR [NAME...] | PATH",
		Short: "Show the identity and space of regions",
		Long: `Show, for each region: its path, the mode it is mapped in now and the mode it
was created in, the persistence method, format version, UUID, owner, pinning,
creation time, root generation, size, used/free/live/garbage bytes, number of
keys, and where the log starts, ends and is committed up to (tail).

With a namespace directory DIR, every region in it is shown, or only the
regions NAME... With PATH (a NAME.region file or a /dev/daxX.Y device), that
one region. Exits 1 if any region did not open.`,
		Example: `  marvel pmem info /mnt/pmem/marvel
  marvel pmem info /mnt/pmem/marvel fn-guest-counter
  marvel pmem info --pmem devdax /dev/dax0.0
  marvel pmem info --json /mnt/pmem/marvel/job-42.region`,
		Args: p.regionArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := p.targets(cmd, args)
			if err != nil {
				return err
			}
			entries := make([]infoEntry, 0, len(ts))
			failed, first := 0, error(nil)
			for _, t := range ts {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				e, err := p.infoOne(t)
				if err != nil {
					failed++
					if first == nil {
						first = err
					}
				}
				entries = append(entries, e)
			}
			if asJSON {
				err = writeJSON(p.out(), entries)
			} else {
				err = writeInfo(p.out(), entries, args[0])
			}
			if err != nil {
				return err
			}
			if failed > 0 {
				return &wrapErr{
					msg: fmt.Sprintf("pmem info: %d of %d regions did not open (first: %s)", failed, len(entries), describeErr(first)),
					err: first,
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array instead of text")
	return cmd
}

func (p *pmemCmd) infoOne(t target) (infoEntry, error) {
	e := infoEntry{Name: t.Name, Path: t.Path}
	s, err := pmem.OpenPath(t.Path, p.options())
	if err != nil {
		e.State, e.Error = state(err), describeErr(err)
		return e, err
	}
	defer s.Close()
	info, st := s.Info(), s.Stats()
	e.State = state(nil)
	e.infoDetail = &infoDetail{
		Mode:          info.Mode.String(),
		CreatedMode:   info.CreatedMode.String(),
		Method:        info.Method,
		FormatVersion: info.FormatVersion,
		UUID:          hex.EncodeToString(info.UUID[:]),
		Owner:         info.Owner,
		Pinned:        info.Pinned,
		Created:       info.Created,
		Generation:    info.Gen,
		Size:          info.Size,
		Used:          st.UsedBytes(),
		Free:          st.FreeBytes,
		Live:          st.LiveBytes,
		Garbage:       st.GarbageBytes,
		Keys:          st.Keys,
		LogStart:      st.LogStart,
		LogTail:       st.Tail,
		LogEnd:        st.LogEnd,
	}
	return e, nil
}

func writeInfo(w io.Writer, entries []infoEntry, where string) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintf(w, "no regions in %s\n", where)
		return err
	}
	for i, e := range entries {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "region %s\n", e.Name)
		tw := newTable(w)
		row := func(k, format string, args ...any) {
			fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, args...)...)
		}
		row("path", "%s", e.Path)
		if e.infoDetail == nil {
			row("state", "%s", e.State)
			row("error", "%s", e.Error)
			if err := tw.Flush(); err != nil {
				return err
			}
			continue
		}
		row("mode", "%s", e.Mode)
		row("created mode", "%s", e.CreatedMode)
		row("persistence", "%s", e.Method)
		row("format version", "%d", e.FormatVersion)
		row("uuid", "%s", e.UUID)
		row("owner", "%s", orDash(printable(e.Owner)))
		row("pinned", "%s", yesNo(e.Pinned))
		row("created", "%s", e.Created.Format(time.RFC3339))
		row("root generation", "%d", e.Generation)
		row("size", "%s", bytesAndHuman(e.Size))
		row("used", "%s", bytesAndHuman(e.Used))
		row("free", "%s", bytesAndHuman(e.Free))
		row("live", "%s", bytesAndHuman(e.Live))
		row("garbage", "%s", bytesAndHuman(e.Garbage))
		row("keys", "%d", e.Keys)
		row("log", "start %d, tail %d, end %d", e.LogStart, e.LogTail, e.LogEnd)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// bytesAndHuman formats n as "1048576 (1 MiB)".
func bytesAndHuman(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%d (%s)", n, humanBytes(n))
}
