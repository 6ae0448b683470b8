package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/pmem"
)

// checkEntry is the outcome of checking one region, and its JSON form.
type checkEntry struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Result is "ok", "damaged" (corruption found, on open or by the check)
	// or "unchecked" (the region did not open for another reason, e.g. in use).
	Result       string   `json:"result"`
	Records      int      `json:"records"`
	Puts         int      `json:"puts"`
	Deletes      int      `json:"deletes"`
	Keys         int      `json:"keys"`
	LogBytes     int64    `json:"log_bytes"`
	InactiveRoot string   `json:"inactive_root,omitempty"`
	Problems     []string `json:"problems,omitempty"`

	errs []error
}

// checkSummary is the JSON form of `marvel pmem check --json`.
type checkSummary struct {
	Regions   []checkEntry `json:"regions"`
	Checked   int          `json:"checked"`
	OK        int          `json:"ok"`
	Damaged   int          `json:"damaged"`
	Unchecked int          `json:"unchecked"`
}

const (
	resultOK        = "ok"
	resultDamaged   = "damaged"
	resultUnchecked = "unchecked"
)

func (p *pmemCmd) checkCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check DIR [NAME...] | PATH",
		Short: "Verify every checksum of regions",
		Long: `Open each region read-only and verify it: the superblock, the active root,
the header, key and value checksum of every record in the committed log, and
that the index rebuilt from the log is consistent. Prints "ok" with counts per
sound region, and every problem (naming the file and byte offset) per damaged
one, then a summary line.

A region that fails to open counts as damaged when the failure is corruption
or truncation, and as "could not be opened" otherwise (in use by a running
process, missing, a forced --pmem mode that does not apply). Exits 1 if any
region is not ok.`,
		Example: `  marvel pmem check /mnt/pmem/marvel
  marvel pmem check /mnt/pmem/marvel fn-guest-counter job-42
  marvel pmem check /mnt/pmem/marvel/job-42.region`,
		Args: p.regionArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := p.targets(cmd, args)
			if err != nil {
				return err
			}
			sum := checkSummary{Regions: make([]checkEntry, 0, len(ts))}
			var first error
			for _, t := range ts {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				e := p.checkOne(t)
				switch e.Result {
				case resultOK:
					sum.OK++
				case resultDamaged:
					sum.Damaged++
				default:
					sum.Unchecked++
				}
				if first == nil && len(e.errs) > 0 {
					first = e.errs[0]
				}
				if !asJSON {
					if err := writeCheckEntry(p.out(), e); err != nil {
						return err
					}
				}
				sum.Regions = append(sum.Regions, e)
			}
			sum.Checked = len(sum.Regions)
			if asJSON {
				err = writeJSON(p.out(), sum)
			} else {
				err = writeCheckSummary(p.out(), sum)
			}
			if err != nil {
				return err
			}
			if sum.OK < sum.Checked {
				return &CheckError{Checked: sum.Checked, Damaged: sum.Damaged, Unchecked: sum.Unchecked, First: first}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object instead of text")
	return cmd
}

func (p *pmemCmd) checkOne(t target) checkEntry {
	e := checkEntry{Name: t.Name, Path: t.Path}
	s, err := pmem.OpenPath(t.Path, p.options())
	if err != nil {
		e.Result = resultUnchecked
		if isDamage(err) {
			e.Result = resultDamaged
		}
		e.errs = []error{err}
		e.Problems = []string{describeErr(err)}
		return e
	}
	defer s.Close()
	rep := s.Check()
	e.Records, e.Puts, e.Deletes, e.Keys, e.LogBytes = rep.Records, rep.Puts, rep.Deletes, rep.Keys, rep.LogBytes
	e.InactiveRoot = rep.InactiveRoot
	e.Result = resultOK
	if !rep.OK() {
		e.Result = resultDamaged
		e.errs = rep.Problems
		for _, pr := range rep.Problems {
			e.Problems = append(e.Problems, describeErr(pr))
		}
	}
	p.logger().Info("region checked", "path", t.Path, "result", e.Result, "records", e.Records, "problems", len(e.Problems))
	return e
}

func writeCheckEntry(w io.Writer, e checkEntry) error {
	var err error
	switch e.Result {
	case resultOK:
		_, err = fmt.Fprintf(w, "%s: ok (%s: %s, %s; %s; %s of log)\n", e.Name, plural(e.Records, "record"),
			plural(e.Puts, "put"), plural(e.Deletes, "delete"), plural(e.Keys, "key"), humanBytes(e.LogBytes))
	case resultDamaged:
		_, err = fmt.Fprintf(w, "%s: DAMAGED, %s\n", e.Name, plural(len(e.Problems), "problem"))
	default:
		_, err = fmt.Fprintf(w, "%s: could not be opened\n", e.Name)
	}
	if err != nil {
		return err
	}
	for _, pr := range e.Problems {
		if _, err := fmt.Fprintf(w, "  %s\n", pr); err != nil {
			return err
		}
	}
	return nil
}

func writeCheckSummary(w io.Writer, sum checkSummary) error {
	line := fmt.Sprintf("checked %s: %d ok, %d damaged", plural(sum.Checked, "region"), sum.OK, sum.Damaged)
	if sum.Unchecked > 0 {
		line += fmt.Sprintf(", %d could not be opened", sum.Unchecked)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
