package shuffle_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle/internal/servertest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(runCrashChild())
	}
	code := m.Run()
	if err := servertest.StopAll(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the test servers:", err)
		code = max(code, 1)
	}
	os.Exit(code)
}
