package harness_test

import (
	"os"
	"testing"

	"github.com/marvel-serverless/marvel/internal/testbin"
)

// marvelBin is the marvel executable built once for the tests: the
// runtime instances and the task action run it.
var marvelBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(m, &marvelBin, false))
}
