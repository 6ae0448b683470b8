package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/invoker/client"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// The `marvel action` and `marvel activation` commands are a wsk subset
// over package invoker/client: same flags, same output, same error texts,
// against `marvel standalone` or any OpenWhisk.

// wskCmd holds the connection flags of a wsk command group (persistent on
// the group, so they go before or after the sub-command).
type wskCmd struct {
	*app
	apihost   string
	auth      string
	namespace string
	insecure  bool
}

// wskGroup registers the connection flags on a group command.
func (a *app) wskGroup(cmd *cobra.Command) *wskCmd {
	w := &wskCmd{app: a}
	pf := cmd.PersistentFlags()
	pf.StringVar(&w.apihost, "apihost", "", "OpenWhisk API `HOST` or URL (default: WHISK_APIHOST, else APIHOST of the wsk property file)")
	pf.StringVarP(&w.auth, "auth", "u", "", "authorization `KEY`, UUID:KEY (default: WHISK_AUTH, else AUTH of the wsk property file)")
	pf.StringVar(&w.namespace, "namespace", "", "`NAMESPACE` of names without one (default: WHISK_NAMESPACE, else NAMESPACE of the wsk property file, else \"_\")")
	pf.BoolVarP(&w.insecure, "insecure", "i", false, "skip TLS certificate verification (default: INSECURE_SSL of the wsk property file)")
	return w
}

// wskConfigHelp is the part of the groups' Long text on where settings come from.
const wskConfigHelp = `Settings come from the flags, else the environment (WHISK_APIHOST, WHISK_AUTH,
WHISK_NAMESPACE, WHISK_APIVERSION), else the wsk property file
(WSK_CONFIG_FILE, else ~/.wskprops: APIHOST, AUTH, NAMESPACE, APIVERSION,
INSECURE_SSL), as for wsk. An API host without a scheme is https://, except
localhost and 127.0.0.1, which are http:// (marvel standalone serves
http://127.0.0.1:3233).`

// client returns a client configured as wsk would be: flag > environment
// > property file. Close its idle connections when done.
func (w *wskCmd) client(cmd *cobra.Command) (*client.Client, error) {
	cfg, err := client.LoadConfig(w.env.Getenv)
	if err != nil {
		return nil, err
	}
	f := cmd.Flags()
	if f.Changed("apihost") {
		cfg.APIHost = w.apihost
	}
	if f.Changed("auth") {
		cfg.Auth = w.auth
	}
	if f.Changed("namespace") {
		cfg.Namespace = w.namespace
	}
	if f.Changed("insecure") {
		cfg.Insecure = w.insecure
	}
	cfg.UserAgent = "marvel-cli (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
	cfg.Logger = w.logger()
	return client.New(cfg)
}

// qualified returns /namespace/name for messages, as wsk prints it.
func qualified(c *client.Client, name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return "/" + c.Config().Namespace + "/" + name
}

// wskErr is a failed call in wsk's words: "Unable to <what>: <server
// message> (code <transaction id>)". It unwraps to err.
func wskErr(err error, format string, args ...any) error {
	return &wrapErr{msg: fmt.Sprintf(format, args...) + ": " + describeWsk(err), err: err}
}

// describeWsk is how wsk shows a failure: the server's message and its
// code, or what else went wrong.
func describeWsk(err error) string {
	var e *client.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("%s (code %s)", msg, e.Code)
	}
	return fmt.Sprintf("%s (HTTP status code %d)", msg, e.Status)
}

// printJSON writes v as wsk does: indented by four spaces, < > & kept.
func printJSON(w io.Writer, v any) error {
	if raw, ok := v.(json.RawMessage); ok && len(raw) == 0 {
		v = struct{}{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Two-value flags. pflag gives a flag one value, but wsk's -p and -a take
// two (KEY VALUE), so the commands that have them parse their own command
// line: splitKV takes those flags out, in order, and pflag parses the rest.

// kvArg is one -p/-a KEY VALUE or -P/-A FILE, in command-line order.
type kvArg struct {
	key, value string
	file       string // set for -P/-A
}

// kvArgs are the parameter and annotation arguments of a command line.
type kvArgs struct {
	params, annots []kvArg
}

// kvFlag is a two-value flag or a file flag as splitKV recognises it.
type kvFlag struct {
	long, short string
	file        bool // takes FILE, not KEY VALUE
	annot       bool // annotation, not parameter
}

var kvFlags = []kvFlag{
	{long: "param", short: "p"},
	{long: "param-file", short: "P", file: true},
	{long: "annotation", short: "a", annot: true},
	{long: "annotation-file", short: "A", file: true, annot: true},
}

// splitKV removes -p/--param KEY VALUE and -P/--param-file FILE (and with
// annots, -a/--annotation KEY VALUE and -A/--annotation-file FILE) from
// args, up to a "--". The values are taken as they are, even when they
// start with "-", as wsk does.
func splitKV(args []string, annots bool) (rest []string, kv kvArgs, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		var f *kvFlag
		inline, hasInline := "", false
		for j := range kvFlags {
			k := &kvFlags[j]
			if k.annot && !annots {
				continue
			}
			switch {
			case arg == "-"+k.short || arg == "--"+k.long:
				f = k
			case k.file && strings.HasPrefix(arg, "--"+k.long+"="):
				f, inline, hasInline = k, strings.TrimPrefix(arg, "--"+k.long+"="), true
			}
			if f != nil {
				break
			}
		}
		if f == nil {
			rest = append(rest, arg)
			continue
		}
		dst := &kv.params
		if f.annot {
			dst = &kv.annots
		}
		switch {
		case hasInline:
			*dst = append(*dst, kvArg{file: inline})
		case f.file:
			if i+1 >= len(args) {
				return nil, kv, fmt.Errorf("flag --%s needs a FILE", f.long)
			}
			*dst = append(*dst, kvArg{file: args[i+1]})
			i++
		default:
			if i+2 >= len(args) {
				return nil, kv, fmt.Errorf("flag --%s needs a KEY and a VALUE (-%s KEY VALUE)", f.long, f.short)
			}
			*dst = append(*dst, kvArg{key: args[i+1], value: args[i+2]})
			i += 2
		}
	}
	return rest, kv, nil
}

// kvHelpValue stands for a flag splitKV handles, so that help lists it.
// pflag only sees it in forms splitKV leaves (-pKEY, --param=KEY).
type kvHelpValue struct{ f kvFlag }

func (v *kvHelpValue) String() string { return "" }

func (v *kvHelpValue) Set(string) error {
	if v.f.file {
		return fmt.Errorf("write -%s FILE or --%s FILE", v.f.short, v.f.long)
	}
	return fmt.Errorf("write -%s KEY VALUE", v.f.short)
}

func (v *kvHelpValue) Type() string { return "" }

// kvCommand makes cmd one that takes wsk's -p (and with annots, -a) flags:
// it parses its own command line and then calls run with the positional
// arguments (between minArgs and maxArgs of them) and the key-value
// arguments in order.
func (w *wskCmd) kvCommand(cmd *cobra.Command, annots bool, minArgs, maxArgs int, run func(cmd *cobra.Command, args []string, kv kvArgs) error) *cobra.Command {
	cmd.DisableFlagParsing = true
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, raw []string) error {
		rest, kv, err := splitKV(raw, annots)
		if err != nil {
			return w.usageErr(cmd, err)
		}
		cmd.InheritedFlags() // merges the persistent flags of the parents into Flags
		if err := cmd.Flags().Parse(rest); err != nil {
			return w.usageErr(cmd, err)
		}
		if help, _ := cmd.Flags().GetBool("help"); help {
			return cmd.Help()
		}
		// The root's setup ran before the flags were parsed: run it again
		// for --log-level.
		if err := w.setup(cmd, nil); err != nil {
			return err
		}
		args := cmd.Flags().Args()
		if err := cobra.RangeArgs(minArgs, maxArgs)(cmd, args); err != nil {
			return w.usageErr(cmd, err)
		}
		return run(cmd, args, kv)
	}
	f := cmd.Flags()
	for _, k := range kvFlags {
		if k.annot && !annots {
			continue
		}
		what := "parameter"
		if k.annot {
			what = "annotation"
		}
		usage := what + " `KEY VALUE`; VALUE is JSON when it parses as JSON, else a string (repeatable)"
		if k.file {
			usage = "`FILE` holding a JSON object of " + what + "s (repeatable; later values win)"
		}
		f.VarP(&kvHelpValue{k}, k.long, k.short, usage)
	}
	return cmd
}

// keyValues turns -p/-P (or -a/-A) arguments into a list, in order; a key
// given again takes its new value in its first place.
func keyValues(args []kvArg) (whisk.KeyValues, error) {
	var kv whisk.KeyValues
	for _, a := range args {
		if a.file == "" {
			kv = kv.Set(a.key, jsonValue(a.value))
			continue
		}
		pairs, err := readKVFile(a.file)
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			kv = kv.Set(p.Key, p.Value)
		}
	}
	return kv, nil
}

// jsonValue is a command-line VALUE as wsk reads it: itself when it is
// JSON, else a JSON string.
func jsonValue(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// readKVFile reads a file holding one JSON object, keeping its key order.
func readKVFile(path string) (whisk.KeyValues, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: want a JSON object", path)
	}
	var kv whisk.KeyValues
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		kv = append(kv, whisk.KeyValue{Key: tok.(string), Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: data after the JSON object", path)
	}
	return kv, nil
}

// paramsObject is a parameter list as the JSON object an invoke sends.
func paramsObject(kv whisk.KeyValues) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range kv {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(p.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// timeValue is a --since/--upto flag: epoch milliseconds (as wsk), an
// RFC 3339 time, or a duration meaning that long ago.
type timeValue struct {
	t   time.Time
	now func() time.Time
}

func (v *timeValue) String() string {
	if v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339)
}

func (v *timeValue) Set(s string) error {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		v.t = time.UnixMilli(ms)
		return nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		v.t = t
		return nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		now := time.Now
		if v.now != nil {
			now = v.now
		}
		v.t = now().Add(-d)
		return nil
	}
	return fmt.Errorf("%q is not a time: want epoch milliseconds, an RFC 3339 time or a duration ago (1h30m)", s)
}

func (v *timeValue) Type() string { return "time" }
