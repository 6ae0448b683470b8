package instance

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// marvelBin is the marvel command built by TestMain (or given with
// go test ./invoker/instance/ -args -marvel=PATH).
var marvelBin string

var flagMarvel = flag.String("marvel", "", "use this marvel executable instead of building ./cmd/marvel")

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	if *flagMarvel != "" {
		marvelBin = *flagMarvel
		return run(m)
	}
	tmp, err := os.MkdirTemp("", "marvel-instance-test-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "instance: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		fmt.Fprintf(os.Stderr, "instance: cannot find the module (go env GOMOD = %q): %v\n", gomod, err)
		return 1
	}
	marvelBin = filepath.Join(tmp, "marvel")
	build := exec.Command("go", "build", "-o", marvelBin, "./cmd/marvel")
	build.Dir = filepath.Dir(gomod)
	if b, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "instance: go build ./cmd/marvel: %v\n%s", err, b)
		return 1
	}
	return run(m)
}

// run runs the tests and checks that none leaves a goroutine behind.
func run(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "instance: goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}
