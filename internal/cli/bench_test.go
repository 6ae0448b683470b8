package cli_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/internal/cli"
)

// TestCLIBenchUsageErrors: bad flags of marvel bench are usage errors,
// found before anything starts. (The benchmark itself runs in package
// benchmarks/harness's tests and in scripts/test.sh.)
func TestCLIBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"bench", "--quick", "--size", "1GiB"}, "--quick and --size: give one"},
		{[]string{"bench", "--stores", "pmem,nvme"}, `store "nvme": want pmem, disk, redis, s3`},
		{[]string{"bench", "--workloads", "sort,terasort"}, `workload "terasort"`},
		{[]string{"bench", "--stores", "pmem,pmem"}, `store "pmem" is listed twice`},
		{[]string{"bench", "--repeat", "0"}, "--repeat 0: want at least 1"},
		{[]string{"bench", "--plots", "jpeg"}, `--plots "jpeg": want png, svg or none`},
		{[]string{"bench", "--memory", "4096"}, "memory 4096 MB"},
		{[]string{"bench", "--latency", "-1ms"}, "latency -1ms is negative"},
		{[]string{"bench", "--size", "lots"}, `invalid argument "lots" for "--size" flag`},
		{[]string{"bench", "extra"}, `unknown command "extra" for "marvel bench"`},
	} {
		t.Run(tc.args[1], func(t *testing.T) {
			res := run(t, tc.args...)
			var ue *cli.UsageError
			require.ErrorAs(t, res.err, &ue)
			require.Equal(t, 2, res.code())
			require.Contains(t, res.err.Error(), tc.msg)
			require.Contains(t, res.stderr, "Usage:\n  marvel bench")
			require.Empty(t, res.stdout)
		})
	}
}

func TestCLIBenchHelp(t *testing.T) {
	res := run(t, "bench", "--help")
	require.NoError(t, res.err)
	for _, s := range []string{"--quick", "--size", "--workloads", "--stores", "--repeat", "--mappers", "--reducers",
		"--latency", "--out", "--data", "--plots", "PMEM is emulated on tmpfs (DRAM)", "fsyncs"} {
		require.Contains(t, res.stdout, s)
	}
	res = run(t)
	require.Regexp(t, `\n  bench +\S`, res.stdout)
}
