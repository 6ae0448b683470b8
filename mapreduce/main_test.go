package mapreduce

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// childEnv makes the test binary a task process: the value is
// "ROOT|PARAMS-JSON", the task is run with RunTask and the process exits 0
// on success, 1 on error (or 3 by the "exit" failure hook).
const childEnv = "MAPREDUCE_TEST_TASK"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func runChild(spec string) int {
	var root, params string
	for i := range len(spec) {
		if spec[i] == '|' {
			root, params = spec[:i], spec[i+1:]
			break
		}
	}
	out, err := RunTask(context.Background(), root, []byte(params))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(string(out))
	return 0
}
