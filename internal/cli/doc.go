// Package cli holds the `marvel` command line as a library of cobra
// commands, so tests drive every command in-process with buffers for its
// output and a fake environment.
//
// # Usage
//
//	root := cli.NewRootCommand(cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
//	err := root.ExecuteContext(ctx)
//	os.Exit(cli.ExitCode(err))
//
// Commands never read the process environment, never exit and never print
// their own errors: everything they need comes from Env, and failures come
// back as errors. ExitCode maps an error to the process exit status: 0 for
// nil, 2 for a *UsageError (bad flags or arguments; the usage text has
// already been written to Env.Stderr), 1 for anything else, including
// *CheckError from `marvel pmem check`.
//
// # Adding a command
//
// Write a method on *app that returns the *cobra.Command (see version.go for
// the smallest example) and add it to the AddCommand call in
// NewRootCommand. Use a.out() and a.logger() inside RunE, cmd.Context() for
// cancellation, wrap positional-argument validators with usageArgs, and do
// not set PersistentPreRunE on a sub-command: the root's (which sets up
// logging) would then not run.
//
// # Caveats
//
// `marvel pmem ls` only opens each region (recovery verifies the headers and
// every record header and key); it does not read values. `marvel pmem check`
// is the deep verification that reads every value checksum.
package cli
