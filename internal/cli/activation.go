package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

func (a *app) activationCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "activation",
		Short: "List activations and get their records, logs and results (a wsk subset)",
		Long: `activation works with the activation records of an OpenWhisk API, marvel
standalone's or any OpenWhisk's, as wsk activation does.

` + wskConfigHelp,
	})
	w := a.wskGroup(cmd)
	cmd.AddCommand(w.activationListCommand(), w.activationGetCommand(), w.activationLogsCommand(), w.activationResultCommand())
	return cmd
}

func (w *wskCmd) activationListCommand() *cobra.Command {
	var q client.ActivationQuery
	var since, upto timeValue
	var full bool
	cmd := &cobra.Command{
		Use:   "list [NAME]",
		Short: "List activations, newest first",
		Long: `list prints a line per activation, newest first, as wsk activation list:
Datetime (local time), Activation ID, Kind, Start (cold when the activation
initialised its container, else warm), Duration, Status and Entity
(namespace/name:version). NAME keeps one action's activations. --since and
--upto take epoch milliseconds (as wsk), an RFC 3339 time, or a duration
meaning that long ago (15m). With --full it prints "activations" and each
full record as JSON instead.`,
		Args: w.usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				q.Name = args[0]
			}
			q.Since, q.Upto = since.t, upto.t
			c, err := w.client(cmd)
			if err != nil {
				return err
			}
			defer c.CloseIdleConnections()
			acts, err := c.ListActivations(cmd.Context(), q, full)
			if err != nil {
				return wskErr(err, "Unable to obtain the list of activations for namespace '%s'", c.Config().Namespace)
			}
			if full {
				fmt.Fprintln(w.out(), "activations")
				for _, a := range acts {
					if err := printJSON(w.out(), a); err != nil {
						return err
					}
				}
				return nil
			}
			return writeActivationTable(w.out(), acts)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&q.Limit, "limit", "l", 30, "only return `LIMIT` activations (at most 200)")
	f.IntVarP(&q.Skip, "skip", "s", 0, "exclude the first `SKIP` activations")
	f.Var(&since, "since", "only activations started at or after this `TIME`")
	f.Var(&upto, "upto", "only activations started at or before this `TIME`")
	f.BoolVarP(&full, "full", "f", false, "print the full records as JSON")
	return cmd
}

// statusNames are wsk's short names of the status codes.
var statusNames = []string{"success", "application error", "developer error", "internal error"}

// writeActivationTable writes the rows of wsk activation list.
func writeActivationTable(w io.Writer, acts []whisk.Activation) error {
	kindW, statusW := len("Kind"), len(statusNames[0])
	for _, a := range acts {
		kindW = max(kindW, len(activationKind(a)))
		statusW = max(statusW, len(activationStatus(a)))
	}
	kw, sw := strconv.Itoa(kindW), strconv.Itoa(statusW)
	header := "%-19s %-32s %-" + kw + "s %-6s%-10s %-" + sw + "s %-6s\n"
	row := "%s %-32s %-" + kw + "s %-5s %-10v %-" + sw + "s %s\n"
	if _, err := fmt.Fprintf(w, header, "Datetime", "Activation ID", "Kind", "Start", "Duration", "Status", "Entity"); err != nil {
		return err
	}
	for _, a := range acts {
		start := time.UnixMilli(a.Start)
		d := time.Duration(a.Duration) * time.Millisecond
		if a.Duration == 0 && a.End > a.Start {
			d = time.Duration(a.End-a.Start) * time.Millisecond
		}
		warm := "warm"
		if a.Annotations.Get("initTime") != nil {
			warm = "cold"
		}
		entity := truncate(a.Namespace, 20) + "/" + truncate(a.Name, 30) + ":" + truncate(a.Version, 20)
		if _, err := fmt.Fprintf(w, row, start.Format("2006-01-02 15:04:05"), a.ActivationID, activationKind(a), warm, d, activationStatus(a), entity); err != nil {
			return err
		}
	}
	return nil
}

// activationKind is the kind annotation, or "unknown".
func activationKind(a whisk.Activation) string {
	var k string
	if v := a.Annotations.Get("kind"); v != nil && json.Unmarshal(v, &k) == nil && k != "" {
		return k
	}
	return "unknown"
}

// activationStatus is wsk's name of the status: from statusCode in
// summaries, from response.status in full records.
func activationStatus(a whisk.Activation) string {
	code := whisk.CodeSuccess
	switch {
	case a.StatusCode != nil:
		code = *a.StatusCode
	case a.Response != nil:
		code = whisk.StatusCodeOf(a.Response.Status)
	}
	if code >= 0 && code < len(statusNames) {
		return statusNames[code]
	}
	return statusNames[0]
}

// truncate shortens s to n bytes with "..." in the middle, as wsk does.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	mid := n / 2
	upp := len(s) - mid + 3
	if n%2 != 0 {
		mid++
	}
	return s[:mid] + "..." + s[upp:]
}

// activationID returns the ID argument, or with --last the newest
// activation's.
func (w *wskCmd) activationID(cmd *cobra.Command, c *client.Client, args []string, last bool) (string, error) {
	switch {
	case len(args) == 1 && !last:
		return args[0], nil
	case len(args) == 0 && last:
		acts, err := c.ListActivations(cmd.Context(), client.ActivationQuery{Limit: 1}, false)
		if err != nil {
			return "", wskErr(err, "Unable to obtain the list of activations for namespace '%s'", c.Config().Namespace)
		}
		if len(acts) == 0 {
			return "", errors.New("Activation list does not contain any activations.")
		}
		return acts[0].ActivationID, nil
	}
	return "", w.usageErr(cmd, errors.New("An activation ID is required (or --last, not both)."))
}

// idCommand is a command on one activation: ID or --last.
func (w *wskCmd) idCommand(cmd *cobra.Command, run func(cmd *cobra.Command, c *client.Client, id string) error) *cobra.Command {
	var last bool
	cmd.Args = w.usageArgs(cobra.MaximumNArgs(1))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := w.client(cmd)
		if err != nil {
			return err
		}
		defer c.CloseIdleConnections()
		id, err := w.activationID(cmd, c, args, last)
		if err != nil {
			return err
		}
		return run(cmd, c, id)
	}
	cmd.Flags().BoolVarP(&last, "last", "l", false, "use the newest activation")
	return cmd
}

func (w *wskCmd) activationGetCommand() *cobra.Command {
	return w.idCommand(&cobra.Command{
		Use:   "get (ID | --last)",
		Short: "Get an activation record",
		Long:  `get prints "ok: got activation ID" and the full record as JSON: response, logs, annotations, timing.`,
	}, func(cmd *cobra.Command, c *client.Client, id string) error {
		a, err := c.GetActivation(cmd.Context(), id)
		if err != nil {
			return wskErr(err, "Unable to get activation '%s'", id)
		}
		fmt.Fprintf(w.out(), "ok: got activation %s\n", id)
		return printJSON(w.out(), a)
	})
}

// logPrefix matches the timestamp and stream wsk's --strip removes.
var logPrefix = regexp.MustCompile(`\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-6]\d:[0-6]\d.\d+Z( *(stdout|stderr):)?\s(.*)`)

// stripLog drops a log line's timestamp and stream, as wsk does.
func stripLog(line string) string {
	if m := logPrefix.FindStringSubmatch(line); len(m) > 3 && m[3] != "" {
		return m[3]
	}
	return line
}

func (w *wskCmd) activationLogsCommand() *cobra.Command {
	var strip bool
	cmd := w.idCommand(&cobra.Command{
		Use:   "logs (ID | --last)",
		Short: "Print an activation's logs",
		Long: `logs prints an activation's log lines, each "TIMESTAMP STREAM: text"; with
--strip only the text.`,
	}, func(cmd *cobra.Command, c *client.Client, id string) error {
		lines, err := c.ActivationLogs(cmd.Context(), id)
		if err != nil {
			return wskErr(err, "Unable to get logs for activation '%s'", id)
		}
		for _, l := range lines {
			if strip {
				l = stripLog(l)
			}
			if _, err := fmt.Fprintln(w.out(), l); err != nil {
				return err
			}
		}
		return nil
	})
	cmd.Flags().BoolVarP(&strip, "strip", "r", false, "strip the timestamp and stream from each line")
	return cmd
}

func (w *wskCmd) activationResultCommand() *cobra.Command {
	return w.idCommand(&cobra.Command{
		Use:   "result (ID | --last)",
		Short: "Print an activation's result",
		Long:  `result prints the result of an activation as JSON.`,
	}, func(cmd *cobra.Command, c *client.Client, id string) error {
		r, err := c.ActivationResult(cmd.Context(), id)
		if err != nil {
			return wskErr(err, "Unable to get result for activation '%s'", id)
		}
		return printJSON(w.out(), r.Result)
	})
}
