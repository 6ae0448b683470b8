package shuffle_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marvel-serverless/marvel/mapreduce/shuffle"
)

func TestConfigValidate(t *testing.T) {
	s3 := shuffle.Config{Kind: "s3", Addr: "127.0.0.1:9000", Bucket: "shuffle", AccessKey: "a", SecretKey: "b"}
	for _, tc := range []struct {
		name string
		c    shuffle.Config
		want []string // substrings, one per problem; none: valid
	}{
		{"pmem", shuffle.Config{Kind: "pmem", Dir: "/mnt/pmem/.shuffle"}, nil},
		{"pmem emulated", shuffle.Config{Kind: "pmem", Dir: "/x", Mode: "emulated"}, nil},
		{"pmem fsdax", shuffle.Config{Kind: "pmem", Dir: "/x", Mode: "fsdax"}, nil},
		{"disk", shuffle.Config{Kind: "disk", Dir: "/var/spill"}, nil},
		{"redis", shuffle.Config{Kind: "redis", Addr: "127.0.0.1:6379", Latency: time.Millisecond}, nil},
		{"s3", s3, nil},
		{"no kind", shuffle.Config{}, []string{"kind is empty"}},
		{"unknown kind", shuffle.Config{Kind: "hdfs"}, []string{`unknown kind "hdfs"`}},
		{"relative dir", shuffle.Config{Kind: "disk", Dir: "spill"}, []string{`dir "spill" is not absolute`}},
		{"no dir", shuffle.Config{Kind: "pmem"}, []string{"dir is empty"}},
		{"bad mode", shuffle.Config{Kind: "pmem", Dir: "/x", Mode: "devdax"}, []string{`unknown mode "devdax"`}},
		{"mode on disk", shuffle.Config{Kind: "disk", Dir: "/x", Mode: "emulated"}, []string{"applies to pmem stores only"}},
		{"no addr", shuffle.Config{Kind: "redis"}, []string{"addr"}},
		{"bad port", shuffle.Config{Kind: "redis", Addr: "localhost:http"}, []string{"not a number"}},
		{"no host", shuffle.Config{Kind: "redis", Addr: ":6379"}, []string{"no host"}},
		{"negative latency", shuffle.Config{Kind: "redis", Addr: "h:1", Latency: -1}, []string{"negative"}},
		{"s3 everything wrong", shuffle.Config{Kind: "s3", Bucket: "Bad_Bucket", Latency: -time.Second},
			[]string{"addr", "bucket", "accessKey and secretKey", "negative"}},
		{"s3 short bucket", shuffle.Config{Kind: "s3", Addr: "h:1", Bucket: "ab", AccessKey: "a", SecretKey: "b"}, []string{"3 to 63"}},
		{"s3 bucket ends with dash", shuffle.Config{Kind: "s3", Addr: "h:1", Bucket: "abc-", AccessKey: "a", SecretKey: "b"}, []string{"lowercase"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, shuffle.ErrInvalidConfig)
			var joined interface{ Unwrap() []error }
			require.True(t, errors.As(err, &joined), "Validate joins its problems")
			require.Len(t, joined.Unwrap(), len(tc.want), "one error per problem: %v", err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			_, openErr := shuffle.Open(t.Context(), tc.c)
			require.ErrorIs(t, openErr, shuffle.ErrInvalidConfig, "Open validates")
		})
	}
}

func TestConfigLabel(t *testing.T) {
	require.Equal(t, "pmem", shuffle.Config{Kind: "pmem"}.Label())
	require.Equal(t, "redis", shuffle.Config{Kind: "redis"}.Label())
	require.Equal(t, "s3+2ms", shuffle.Config{Kind: "s3", Latency: 2 * time.Millisecond}.Label())
	require.Equal(t, "disk+500µs", shuffle.Config{Kind: "disk", Latency: 500 * time.Microsecond}.Label())
}

func TestConfigJSON(t *testing.T) {
	c := shuffle.Config{Kind: "s3", Addr: "127.0.0.1:9000", Bucket: "b-1", AccessKey: "ak", SecretKey: "sk", Latency: 2 * time.Millisecond}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, `{"kind":"s3","addr":"127.0.0.1:9000","bucket":"b-1","accessKey":"ak","secretKey":"sk","latency":2000000}`, string(b))
	var back shuffle.Config
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, c, back)

	for in, want := range map[string]time.Duration{
		`{"kind":"redis","latency":"2ms"}`:   2 * time.Millisecond,
		`{"kind":"redis","latency":1500}`:    1500,
		`{"kind":"redis","latency":null}`:    0,
		`{"kind":"redis"}`:                   0,
		`{"kind":"redis","latency":"1m30s"}`: 90 * time.Second,
	} {
		var got shuffle.Config
		require.NoError(t, json.Unmarshal([]byte(in), &got), in)
		require.Equal(t, want, got.Latency, in)
		require.Equal(t, "redis", got.Kind, in)
	}
	for _, in := range []string{`{"latency":"soon"}`, `{"latency":true}`, `{"latency":1.5}`} {
		var got shuffle.Config
		require.Error(t, json.Unmarshal([]byte(in), &got), in)
	}
	pm := shuffle.Config{Kind: "pmem", Dir: "/mnt/pmem/.shuffle", Mode: "emulated"}
	b, err = json.Marshal(pm)
	require.NoError(t, err)
	require.JSONEq(t, `{"kind":"pmem","dir":"/mnt/pmem/.shuffle","mode":"emulated"}`, string(b))
}
