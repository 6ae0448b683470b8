// Command marvel runs and inspects the Marvel stack. Every command lives in
// package internal/cli; this file only connects it to the process.
package main

import (
	"os"

	"github.com/marvel-serverless/marvel/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
