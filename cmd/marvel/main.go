// Command marvel runs and inspects the Marvel stack. Every command lives in
// package internal/cli; this file only connects it to the process: the
// environment, signals, and the exit status.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/marvel-serverless/marvel/internal/cli"
)

func main() {
	os.Exit(run())
}

func run() int {
	// The first SIGINT or SIGTERM cancels the context so commands stop
	// cleanly; after it the default handling is back, so a second one kills.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	root := cli.NewRootCommand(cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "marvel: %v\n", err)
	}
	return cli.ExitCode(err)
}
