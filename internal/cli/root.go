package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// Env is everything a command takes from the process it runs in. Only
// cmd/marvel fills it from the real process; tests pass buffers and a map.
type Env struct {
	// Stdout receives command output (tables, JSON, help). nil discards it.
	Stdout io.Writer
	// Stderr receives logs and usage text on usage errors. nil discards it.
	Stderr io.Writer
	// Getenv looks up environment variables (see envDefaults). nil: none set.
	Getenv func(string) string
	// Logger, when set, receives the commands' structured logs and
	// --log-level is ignored. When nil, a text handler on Stderr at
	// --log-level is built.
	Logger *slog.Logger
}

// envDefaults lists the flags whose default an environment variable can
// override. A flag given on the command line wins over the variable.
var envDefaults = []struct{ flag, env string }{
	{"log-level", "MARVEL_LOG_LEVEL"},
	{"pmem", "MARVEL_PMEM"},
}

// app is the state the commands share: the environment, the root flags and
// the logger built from them before any command runs.
type app struct {
	env   Env
	level levelValue
	lg    *slog.Logger // set by setup; nil before
}

// NewRootCommand returns the `marvel` command with every sub-command
// registered. It reads nothing from the process: all input comes from env and
// from the arguments given to the returned command (SetArgs, or os.Args[1:]
// when none are set).
func NewRootCommand(env Env) *cobra.Command {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	a := &app{env: env, level: levelValue{slog.LevelWarn}}

	root := a.group(&cobra.Command{
		Use:   "marvel",
		Short: "Persistent-memory state for OpenWhisk actions and MapReduce",
		Long: `marvel runs and inspects the Marvel stack: an OpenWhisk action runtime whose
functions keep state in persistent-memory regions, and tools to inspect those
regions.`,
		// Commands return errors; cmd/marvel prints them once as
		// "marvel: <err>". Usage text is printed only for usage errors (by
		// usageErr), never for a command that ran and failed.
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: a.setup,
	})
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(a.usageErr)
	root.PersistentFlags().Var(&a.level, "log-level", "log level: debug, info, warn or error (env MARVEL_LOG_LEVEL)")

	root.AddCommand(
		a.demoCommand(),
		a.pmemCommand(),
		a.runtimeCommand(),
		a.hdfsCommand(),
		a.actionCommand(),
		a.activationCommand(),
		a.standaloneCommand(),
		a.benchCommand(),
		a.jobCommand(),
		a.mrTaskCommand(),
		a.demoActionCommand(),
		a.versionCommand(),
	)
	return root
}

// setup runs before every command: it applies environment defaults and
// builds the logger.
func (a *app) setup(cmd *cobra.Command, _ []string) error {
	for _, d := range append(envDefaults, runtimeEnv...) {
		f := cmd.Flags().Lookup(d.flag)
		v := a.env.Getenv(d.env)
		if f == nil || f.Changed || v == "" {
			continue
		}
		if err := f.Value.Set(v); err != nil {
			return a.usageErr(cmd, fmt.Errorf("environment variable %s=%q: %w", d.env, v, err))
		}
	}
	if a.env.Logger != nil {
		a.lg = a.env.Logger
	} else {
		a.lg = slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: a.level.level}))
	}
	return nil
}

// logger returns the commands' logger (silent before setup has run).
func (a *app) logger() *slog.Logger {
	if a.lg == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.lg
}

// out is where command output goes.
func (a *app) out() io.Writer { return a.env.Stdout }

// usageErr writes cmd's usage to Stderr and returns err as a *UsageError.
func (a *app) usageErr(cmd *cobra.Command, err error) error {
	fmt.Fprint(a.env.Stderr, cmd.UsageString())
	return &UsageError{Err: err}
}

// usageArgs wraps a positional-argument validator so that its failures are
// usage errors.
func (a *app) usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return a.usageErr(cmd, err)
		}
		return nil
	}
}

// group makes cmd a command that only holds sub-commands: alone it prints
// its help, and an unknown sub-command is a usage error (cobra would
// otherwise print help and succeed).
func (a *app) group(cmd *cobra.Command) *cobra.Command {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(quoteAll(s), " or "))
		}
		return a.usageErr(c, fmt.Errorf("%s", msg))
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	return cmd
}

func quoteAll(ss []string) []string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return q
}
