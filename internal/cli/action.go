package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// Action kinds the CLI picks by itself (--kind may name any other).
const (
	kindGo       = "go:default" // Go source, or a zip or executable built for the Go runtime
	kindNative   = "native"     // an executable, #! script or zip with exec, run as it is
	kindBlackbox = "blackbox"   // an image (--docker), code optional
)

func (a *app) actionCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "action",
		Short: "Create, update, get, list, delete and invoke OpenWhisk actions (a wsk subset)",
		Long: `action works with the actions of an OpenWhisk API, marvel standalone's or any
OpenWhisk's, with the flags and output of wsk action.

Names are NAME or PACKAGE/NAME in the namespace (--namespace, default "_",
your own), or /NAMESPACE/NAME.

` + wskConfigHelp,
	})
	w := a.wskGroup(cmd)
	cmd.AddCommand(
		w.putCommand(false),
		w.putCommand(true),
		w.actionGetCommand(),
		w.actionListCommand(),
		w.actionDeleteCommand(),
		w.invokeCommand(),
	)
	return cmd
}

// putCmd holds the flags of action create and update.
type putCmd struct {
	*wskCmd
	update      bool
	kind        string
	main        string
	docker      string
	native      bool
	timeout     int
	memory      int
	logsize     int
	concurrency int
	delAnnots   []string
}

func (w *wskCmd) putCommand(update bool) *cobra.Command {
	p := &putCmd{wskCmd: w, update: update}
	cmd := &cobra.Command{
		Use:   "create NAME [FILE]",
		Short: "Create an action",
		Long: `create makes the action NAME from FILE (PUT ...?overwrite=false); it fails
if NAME exists. FILE is needed unless --docker names an image.

The kind, unless --kind names one:
  --docker IMAGE      blackbox: IMAGE, with FILE as its code if given
  --native            native: FILE (an executable, #! script, or zip with
                      exec) runs as it is, nothing is compiled
  FILE.go             go:default: Go source, compiled by the Go runtime
  a zip, an ELF file  go:default: a zip (source or a prebuilt exec) or an
                      executable for the Go runtime
  a #! script         native
FILE is sent as text when it is UTF-8 text, else base64-encoded (zips,
executables). -p KEY VALUE binds a parameter (VALUE is JSON when it parses,
else a string, as in wsk), -P FILE binds the members of a JSON object; -a
and -A do the same for annotations. Limits (-t, -m, -l, -c) are sent only
when given; the server's defaults apply to the others.

Prints "ok: created action NAME".`,
	}
	verb, done := "create", "created"
	if update {
		cmd.Use = "update NAME [FILE]"
		cmd.Short = "Update an action, or create it if it does not exist"
		cmd.Long = `update replaces or creates the action NAME (PUT ...?overwrite=true). What
the command line leaves out the server keeps: without FILE (or --docker) the
code and kind stay, limits not given stay, parameters stay unless -p or -P
is given (then they are replaced), and annotations given are merged in,
minus --del-annotation ones. FILE, --kind, --docker, --native and the
other flags read as for create.

Prints "ok: updated action NAME".`
		verb, done = "update", "updated"
	}
	w.kvCommand(cmd, true, 1, 2, func(cmd *cobra.Command, args []string, kv kvArgs) error {
		return p.run(cmd, args, kv, verb, done)
	})
	f := cmd.Flags()
	f.StringVar(&p.kind, "kind", "", "the `KIND` of the action runtime (go:default, native, blackbox, ...)")
	f.StringVar(&p.main, "main", "", "the `NAME` of the action entry point")
	f.StringVar(&p.docker, "docker", "", "run the action in the docker `IMAGE` (kind blackbox)")
	f.BoolVar(&p.native, "native", false, "FILE is a native executable, #! script or zip with exec (kind native)")
	f.IntVarP(&p.timeout, "timeout", "t", 60000, "the timeout `LIMIT` in milliseconds after which the action is terminated")
	f.IntVarP(&p.memory, "memory", "m", 256, "the maximum memory `LIMIT` in MB for the action")
	f.IntVarP(&p.logsize, "logsize", "l", 10, "the maximum log size `LIMIT` in MB for the action")
	f.IntVarP(&p.concurrency, "concurrency", "c", 1, "the maximum intra-container concurrent activation `LIMIT` for the action")
	if update {
		f.StringArrayVar(&p.delAnnots, "del-annotation", nil, "annotation `KEY` to delete (repeatable)")
	}
	return cmd
}

func (p *putCmd) run(cmd *cobra.Command, args []string, kv kvArgs, verb, done string) error {
	name, file := args[0], ""
	if len(args) > 1 {
		file = args[1]
	}
	exec, err := p.exec(cmd, file)
	if err != nil {
		return err
	}
	act := whisk.Action{Name: name, Exec: exec, DelAnnotations: p.delAnnots}
	if act.Parameters, err = keyValues(kv.params); err != nil {
		return fmt.Errorf("Invalid parameter argument: %w", err)
	}
	if act.Annotations, err = keyValues(kv.annots); err != nil {
		return fmt.Errorf("Invalid annotation argument: %w", err)
	}
	act.Limits = p.limits(cmd)
	c, err := p.client(cmd)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	if _, err := c.PutAction(cmd.Context(), act, p.update); err != nil {
		return wskErr(err, "Unable to %s action '%s'", verb, name)
	}
	_, err = fmt.Fprintf(p.out(), "ok: %s action %s\n", done, name)
	return err
}

// limits returns the limits given on the command line, nil for none.
func (p *putCmd) limits(cmd *cobra.Command) *whisk.Limits {
	var l whisk.Limits
	set := false
	for _, x := range []struct {
		flag string
		v    int
		dst  **int
	}{
		{"timeout", p.timeout, &l.Timeout},
		{"memory", p.memory, &l.Memory},
		{"logsize", p.logsize, &l.Logs},
		{"concurrency", p.concurrency, &l.Concurrency},
	} {
		if cmd.Flags().Changed(x.flag) {
			v := x.v
			*x.dst = &v
			set = true
		}
	}
	if !set {
		return nil
	}
	return &l
}

// exec builds the action's exec from FILE and the flags; nil on an update
// that keeps the current one.
func (p *putCmd) exec(cmd *cobra.Command, file string) (*whisk.Exec, error) {
	given := 0
	for _, set := range []bool{p.kind != "", p.docker != "", p.native} {
		if set {
			given++
		}
	}
	if given > 1 {
		return nil, p.usageErr(cmd, errors.New("give at most one of --kind, --docker and --native"))
	}
	if file == "" {
		switch {
		case p.docker != "":
			e := &whisk.Exec{Kind: kindBlackbox, Image: p.docker, Main: p.main}
			return e, nil
		case !p.update:
			return nil, p.usageErr(cmd, errors.New("An action name and code artifact are required."))
		case p.kind != "" || p.native || p.main != "":
			return nil, p.usageErr(cmd, errors.New("--kind, --native and --main need a FILE"))
		}
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("Unable to read the action code: %w", err)
	}
	code, binary := string(data), isBinary(data)
	if binary {
		code = base64.StdEncoding.EncodeToString(data)
	}
	e := &whisk.Exec{Code: &code, Main: p.main}
	switch {
	case p.kind != "":
		e.Kind = p.kind
	case p.docker != "":
		e.Kind, e.Image = kindBlackbox, p.docker
	case p.native:
		e.Kind = kindNative
	default:
		if e.Kind = defaultKind(file, data); e.Kind == "" {
			return nil, fmt.Errorf("cannot tell the kind of %s (not .go, a zip, an ELF executable or a #! script): give --kind (%s, %s, ...), --native or --docker", file, kindGo, kindNative)
		}
	}
	return e, nil
}

// defaultKind is the kind of an action file given without --kind, or "".
func defaultKind(file string, data []byte) string {
	switch {
	case strings.EqualFold(filepath.Ext(file), ".go"), isZip(data), bytes.HasPrefix(data, []byte("\x7fELF")):
		return kindGo
	case bytes.HasPrefix(data, []byte("#!")):
		return kindNative
	}
	return ""
}

func isZip(data []byte) bool {
	return bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06"))
}

// isBinary reports whether action code must be sent base64-encoded: a zip,
// an ELF file, or anything that is not UTF-8 text without NUL bytes.
func isBinary(data []byte) bool {
	return isZip(data) || bytes.HasPrefix(data, []byte("\x7fELF")) || !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0
}

func (w *wskCmd) actionGetCommand() *cobra.Command {
	var code bool
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Get an action",
		Long: `get prints "ok: got action NAME" and the action as JSON: kind, limits,
parameters, annotations, version. With --code the code comes too (base64
for binary code).`,
		Args: w.usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := w.client(cmd)
			if err != nil {
				return err
			}
			defer c.CloseIdleConnections()
			act, err := c.GetAction(cmd.Context(), args[0], code)
			if err != nil {
				return wskErr(err, "Unable to get action '%s'", args[0])
			}
			fmt.Fprintf(w.out(), "ok: got action %s\n", args[0])
			return printJSON(w.out(), act)
		},
	}
	cmd.Flags().BoolVar(&code, "code", false, "include the action's code")
	return cmd
}

func (w *wskCmd) actionListCommand() *cobra.Command {
	var limit, skip int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the actions of the namespace",
		Long: `list prints "actions" and a line per action: /NAMESPACE/NAME, private or
public, and the kind (its exec annotation), as wsk action list.`,
		Args: w.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := w.client(cmd)
			if err != nil {
				return err
			}
			defer c.CloseIdleConnections()
			acts, err := c.ListActions(cmd.Context(), limit, skip)
			if err != nil {
				return wskErr(err, "Unable to obtain the list of actions for namespace '%s'", c.Config().Namespace)
			}
			out := w.out()
			fmt.Fprintln(out, "actions")
			for _, a := range acts {
				state := "private"
				if a.Publish {
					state = "public"
				}
				fmt.Fprintf(out, "%-70s %s %s\n", "/"+a.Namespace+"/"+a.Name, state, actionKind(a))
			}
			return nil
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "l", 30, "only return `LIMIT` actions (at most 200)")
	cmd.Flags().IntVarP(&skip, "skip", "s", 0, "exclude the first `SKIP` actions")
	return cmd
}

// actionKind is the kind wsk lists: the exec annotation, else exec.kind.
func actionKind(a whisk.Action) string {
	var k string
	if v := a.Annotations.Get("exec"); v != nil && json.Unmarshal(v, &k) == nil {
		return k
	}
	if a.Exec != nil {
		return a.Exec.Kind
	}
	return ""
}

func (w *wskCmd) actionDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an action",
		Long:  `delete deletes the action NAME and prints "ok: deleted action NAME".`,
		Args:  w.usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := w.client(cmd)
			if err != nil {
				return err
			}
			defer c.CloseIdleConnections()
			if _, err := c.DeleteAction(cmd.Context(), args[0]); err != nil {
				return wskErr(err, "Unable to delete action '%s'", args[0])
			}
			_, err = fmt.Fprintf(w.out(), "ok: deleted action %s\n", args[0])
			return err
		},
	}
}

func (w *wskCmd) invokeCommand() *cobra.Command {
	var blocking, result bool
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Invoke an action",
		Long: `invoke runs the action NAME with the parameters of -p KEY VALUE (VALUE is JSON
when it parses, else a string) and -P FILE (a JSON object), in order.

Without --blocking it prints "ok: invoked /NAMESPACE/NAME with id ID" and
returns at once (marvel activation get ID fetches the outcome). --blocking
waits and prints that line and the activation record; --result waits and
prints the result only. When the action fails (an application or developer
error) the record or result is printed as well and the command fails,
naming the activation. When a blocking invoke outlasts the server's wait
(60 s on OpenWhisk) the command fails with the activation id to look up
later.`,
	}
	w.kvCommand(cmd, false, 1, 1, func(cmd *cobra.Command, args []string, kv kvArgs) error {
		return w.invoke(cmd, args[0], kv, blocking, result)
	})
	cmd.Flags().BoolVarP(&blocking, "blocking", "b", false, "wait for the activation and print its record")
	cmd.Flags().BoolVarP(&result, "result", "r", false, "wait for the activation and print its result only")
	return cmd
}

func (w *wskCmd) invoke(cmd *cobra.Command, name string, kv kvArgs, blocking, result bool) error {
	params, err := keyValues(kv.params)
	if err != nil {
		return fmt.Errorf("Invalid parameter argument: %w", err)
	}
	c, err := w.client(cmd)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	inv, err := c.Invoke(cmd.Context(), name, paramsObject(params), client.InvokeOptions{Blocking: blocking, Result: result})
	var appErr *client.ApplicationError
	if err != nil && !errors.As(err, &appErr) {
		return wskErr(err, "Unable to invoke action '%s'", name)
	}
	out, qname := w.out(), qualified(c, name)
	switch {
	case inv.Pending && (blocking || result):
		return fmt.Errorf("invoked %s, but the request has not yet finished, with id %s (marvel activation get %s fetches it later)", qname, inv.ActivationID, inv.ActivationID)
	case inv.Pending:
		_, err := fmt.Fprintf(out, "ok: invoked %s with id %s\n", qname, inv.ActivationID)
		return err
	case result:
		if err := printJSON(out, inv.Result); err != nil {
			return err
		}
	default:
		fmt.Fprintf(out, "ok: invoked %s with id %s\n", qname, inv.ActivationID)
		if err := printJSON(out, inv.Activation); err != nil {
			return err
		}
	}
	if appErr != nil {
		status := "the action failed"
		if inv.Activation != nil && inv.Activation.Response != nil && inv.Activation.Response.Status != "" {
			status = inv.Activation.Response.Status
		}
		return &wrapErr{msg: fmt.Sprintf("Unable to invoke action '%s': %s in activation %s", name, status, inv.ActivationID), err: appErr}
	}
	return nil
}
