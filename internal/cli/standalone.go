package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/hdfsbridge"
	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/api"
	"github.com/marvel-serverless/marvel/invoker/standalone"
)

// standaloneCmd holds the flags of `marvel standalone`.
type standaloneCmd struct {
	a           *app
	data        string
	api         string
	hdfs        string
	datanode    string
	webhdfs     string
	mode        modeValue
	keys        string
	memoryMB    int
	idle        time.Duration
	capacity    sizeValue
	regionSize  sizeValue
	isolate     string
	binary      string
	sdk         string
	actionCache string
	apiHost     string
	maxActs     int
	maxActBytes sizeValue
	pprof       string
}

func (a *app) standaloneCommand() *cobra.Command {
	d := invoker.DefaultConfig()
	s := &standaloneCmd{a: a, capacity: sizeValue{d.Capacity}, regionSize: sizeValue{d.RegionSize}}
	cmd := &cobra.Command{
		Use:   "standalone",
		Short: "Run the whole single-node stack: the OpenWhisk API and invoker, and the HDFS bridge",
		Long: `standalone runs Marvel on one machine over the data directory --data:

  - the OpenWhisk controller REST API (default http://127.0.0.1:3233), usable
    with wsk, openwhisk-client-go and marvel action/activation; Basic auth
    with the guest key, and more namespaces from --keys;
  - the invoker behind it: every action runs in a "marvel runtime" child
    process with its own persistent-memory region, kept warm for --idle and
    reused by the action's next activations, so its state cache is hit;
  - the HDFS bridge over the same namespace (NameNode, DataNode, WebHDFS),
    so files actions write are read with hdfs:// URIs.

Actions and activation records are kept under --data and survive a restart.
It prints the endpoints, the guest key and the wsk command that configures
wsk, and stops cleanly on SIGINT or SIGTERM, stopping every instance.`,
		Args: a.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return s.run(cmd) },
	}
	f := cmd.Flags()
	f.StringVar(&s.data, "data", "/var/lib/marvel", "Marvel data directory: regions, fs/ (the HDFS namespace), records (env MARVEL_DATA)")
	f.StringVar(&s.api, "api", "127.0.0.1:3233", "OpenWhisk API address")
	f.StringVar(&s.hdfs, "hdfs", hdfsbridge.DefaultNameNodeAddr, `HDFS NameNode RPC address ("-": no HDFS bridge)`)
	f.StringVar(&s.datanode, "datanode", hdfsbridge.DefaultDataNodeAddr, "HDFS DataNode address")
	f.StringVar(&s.webhdfs, "webhdfs", hdfsbridge.DefaultWebHDFSAddr, `WebHDFS address ("-": none)`)
	f.Var(&s.mode, "pmem", "how to map regions: auto, devdax, fsdax or emulated (env MARVEL_PMEM)")
	f.StringVar(&s.keys, "keys", "", `file of more credentials, one "NAMESPACE UUID:KEY" per line (the guest key is always there)`)
	f.IntVar(&s.memoryMB, "memory", d.MemoryMB, "memory budget in MB for instances (the sum of their actions' memory limits)")
	f.DurationVar(&s.idle, "idle", d.IdleTimeout, "how long an idle instance stays warm")
	f.Var(&s.capacity, "pmem-capacity", "PMEM budget shared by the regions under --data")
	f.Var(&s.regionSize, "region-size", "PMEM granted to each action's region (its most)")
	f.StringVar(&s.isolate, "isolate", "auto", "run each namespace's actions as a user of its own: true, false, or auto (when running as root)")
	f.StringVar(&s.binary, "runtime-binary", "", "marvel executable run as the runtime of each instance (default: this one; env MARVEL_BINARY)")
	f.StringVar(&s.sdk, "sdk", "", "Marvel module source, to compile Go source actions (env MARVEL_SDK_DIR)")
	f.StringVar(&s.actionCache, "action-cache", "", "directory caching action executables across cold starts (default: DATA/.action-cache)")
	f.IntVar(&s.maxActs, "max-activations", d.MaxActivations, "activation records kept; the oldest are dropped beyond it")
	f.Var(&s.maxActBytes, "max-activation-bytes", "bytes of activation records kept on disk (default 1GiB); the oldest are dropped beyond it")
	f.StringVar(&s.pprof, "pprof", "", `serve Go's profiles (net/http/pprof, /debug/pprof/) on this address, e.g. 127.0.0.1:6060; no auth, so keep it on loopback ("": none)`)
	f.StringVar(&s.apiHost, "advertise", "", "API host given to actions as __OW_API_HOST (default: http://<--api>)")
	return cmd
}

func (s *standaloneCmd) run(cmd *cobra.Command) error {
	a, ctx := s.a, cmd.Context()
	lg := a.logger()
	keys := api.NewKeys()
	if s.keys != "" {
		if err := keys.LoadKeys(s.keys); err != nil {
			return fmt.Errorf("standalone: %w", err)
		}
	}
	bin := s.binary
	if bin == "" {
		bin = a.env.Getenv("MARVEL_BINARY")
	}
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("standalone: find the marvel executable: %w (give it with --runtime-binary)", err)
		}
	}
	isolate := false
	switch s.isolate {
	case "auto":
		isolate = os.Geteuid() == 0
	case "true":
		isolate = true
	case "false":
	default:
		return a.usageErr(cmd, fmt.Errorf("--isolate %q: want true, false or auto", s.isolate))
	}
	if s.maxActs < 1 {
		return a.usageErr(cmd, fmt.Errorf("--max-activations %d: want at least 1", s.maxActs))
	}
	cfg := invoker.DefaultConfig()
	cfg.Data, cfg.Mode, cfg.Binary = s.data, s.mode.mode, bin
	cfg.SDKDir, cfg.ActionCache, cfg.Isolate = s.sdk, s.actionCache, isolate
	cfg.Capacity, cfg.RegionSize = s.capacity.n, s.regionSize.n
	cfg.MemoryMB, cfg.IdleTimeout = s.memoryMB, s.idle
	cfg.MaxActivations, cfg.MaxActivationBytes = s.maxActs, s.maxActBytes.n
	st, err := standalone.Start(standalone.Config{
		Invoker: cfg, APIAddr: s.api, APIHost: s.apiHost,
		NameNodeAddr: s.hdfs, DataNodeAddr: s.datanode, WebHDFSAddr: s.webhdfs,
		Keys: keys, Getenv: a.env.Getenv, Build: versionLine(debug.ReadBuildInfo()), Logger: lg,
	})
	if err != nil {
		return err
	}
	defer st.Close()

	w := a.env.Stderr
	apiHost := st.APIHost()
	fmt.Fprintf(w, "Marvel standalone over %s (isolation %v)\n", st.Data(), isolate)
	fmt.Fprintf(w, "  API host   %s\n", apiHost)
	fmt.Fprintf(w, "  guest key  %s\n", api.GuestKey)
	fmt.Fprintf(w, "  wsk        wsk property set --apihost %s --auth %s\n", apiHost, api.GuestKey)
	fmt.Fprintf(w, "  metrics    %s/metrics\n", apiHost)
	if b := st.Bridge(); b != nil {
		fmt.Fprintf(w, "  HDFS       hdfs://%s\n", b.NameNodeAddr())
		if wa := b.WebHDFSAddr(); wa != nil {
			fmt.Fprintf(w, "  WebHDFS    http://%s/webhdfs/v1/\n", wa)
		}
	}
	if s.pprof != "" {
		addr, stop, err := servePprof(s.pprof)
		if err != nil {
			return errors.Join(fmt.Errorf("standalone: --pprof %s: %w", s.pprof, err), st.Close())
		}
		defer stop()
		fmt.Fprintf(w, "  pprof      http://%s/debug/pprof/\n", addr)
	}
	fmt.Fprintf(w, "listening on %s\n", st.Addr())

	var runErr error
	select {
	case runErr = <-st.Err():
	case <-ctx.Done():
	}
	lg.Info("stopping")
	return errors.Join(runErr, st.Close())
}

// mkdirMode creates dir if needed and sets its mode.
func mkdirMode(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

// servePprof serves net/http/pprof's handlers on addr, on a listener of
// their own so that they never share the API's port or its auth.
func servePprof(addr string) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr(), func() { srv.Close() }, nil
}
