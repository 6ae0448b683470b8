// Command counter is an example Marvel action; see package actions.
package main

import "github.com/marvel-serverless/marvel/runtime/sdk"

func main() { sdk.Main(Main) }
