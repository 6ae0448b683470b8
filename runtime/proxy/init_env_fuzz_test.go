package proxy

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/marvel-serverless/marvel/pmem"
)

// FuzzInitEnv: the "env" object of an /init comes from the platform but
// holds whatever the action's creator put in its parameters. Whatever it
// holds, the action's environment is made of NAME=VALUE entries with a
// non-empty name without "=" or NUL and a value without NUL; the init env
// never sets or overrides a variable the runtime reserves (MARVEL_*,
// __OW_WAIT_FOR_ACK), whose only entries are the runtime's own; and an
// identity it names is a valid one.
//
//	go test -run '^$' -fuzz '^FuzzInitEnv$' ./runtime/proxy
func FuzzInitEnv(f *testing.F) {
	for _, s := range []string{
		`{"__OW_NAMESPACE":"guest","__OW_ACTION_NAME":"/guest/counter","GREETING":"hi"}`,
		`{"MARVEL_REGION_FD":"3","__OW_WAIT_FOR_ACK":"false","A=B":"c","":"x"}`,
		`{"N":null,"O":{"k":[1,2.5e3,true]},"S":"a\u0000b","U":"\ud800"}`,
		`{"__OW_NAMESPACE":"..","__OW_ACTION_NAME":"/../x"}`,
		`{"PATH":"/evil","__OW_NAMESPACE":1}`,
	} {
		f.Add([]byte(s))
	}
	s := &Server{
		opts: Options{Env: []string{"PATH=/usr/bin", "MARVEL_FILES_DIR=/data/fs/guest"}, WaitAck: true, CacheBytes: 1 << 20},
		log:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var initEnv map[string]json.RawMessage
		if json.Unmarshal(body, &initEnv) != nil {
			return
		}
		env, id := s.actionEnv(initEnv)
		own := map[string]bool{"PATH=/usr/bin": true, "MARVEL_FILES_DIR=/data/fs/guest": true,
			"__OW_WAIT_FOR_ACK=true": true, "MARVEL_CACHE_BYTES=1048576": true}
		for _, kv := range env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
				t.Fatalf("environment entry %q from init env %s", kv, body)
			}
			if reserved(k) && !own[kv] {
				t.Fatalf("the init env %s set the reserved %q", body, kv)
			}
		}
		if id != nil {
			if _, err := NewIdentity(id.Namespace, id.Action); err != nil {
				t.Fatalf("init env %s named identity %v, which is not valid: %v", body, *id, err)
			}
			if err := pmem.ValidName(id.RegionName()); err != nil {
				t.Fatalf("init env %s: region name %q: %v", body, id.RegionName(), err)
			}
		}
	})
}
