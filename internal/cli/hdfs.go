package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/marvel-serverless/marvel/hdfsbridge"
)

// hdfsCmd holds the flags of `marvel hdfs`.
type hdfsCmd struct {
	a          *app
	data       string
	listen     string
	datanode   string
	webhdfs    string
	advertise  string
	blockSize  sizeValue
	superuser  string
	supergroup string
	softLimit  time.Duration
	hardLimit  time.Duration
}

func (a *app) hdfsCommand() *cobra.Command {
	h := &hdfsCmd{a: a, blockSize: sizeValue{128 << 20}}
	cmd := &cobra.Command{
		Use:   "hdfs",
		Short: "Serve the PMEM namespace to HDFS clients (NameNode RPC, DataNode, WebHDFS)",
		Long: `hdfs runs the HDFS-compatible bridge over the namespace under --data: the
files actions keep in persistent memory (DATA/fs/<namespace>/...) are
hdfs://HOST:PORT/<namespace>/... to any HDFS client, and files written
through HDFS are readable by actions, with no copy.

It speaks Hadoop RPC as a NameNode (--listen), DataTransferProtocol as the one
DataNode (--datanode) and WebHDFS over HTTP (--webhdfs). Users are who the
client says it is (SIMPLE authentication, as an unsecured Hadoop cluster);
permissions are HDFS's, the user running the bridge is the superuser. It prints
the endpoints once they accept connections and stops cleanly on SIGINT or
SIGTERM.`,
		Args: a.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return h.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&h.data, "data", "/var/lib/marvel", "Marvel data directory; the HDFS namespace is its fs/ (env MARVEL_DATA)")
	f.StringVar(&h.listen, "listen", hdfsbridge.DefaultNameNodeAddr, "NameNode RPC address (fs.defaultFS=hdfs://ADDR)")
	f.StringVar(&h.datanode, "datanode", hdfsbridge.DefaultDataNodeAddr, "DataNode data-transfer address")
	f.StringVar(&h.webhdfs, "webhdfs", hdfsbridge.DefaultWebHDFSAddr, `WebHDFS HTTP address ("-": none)`)
	f.StringVar(&h.advertise, "advertise", "", "host clients dial for the DataNode (default: the --datanode host, or 127.0.0.1)")
	f.Var(&h.blockSize, "block-size", "block size of new files (dfs.blocksize)")
	f.StringVar(&h.superuser, "superuser", "", "HDFS superuser (default: the user running the bridge)")
	f.StringVar(&h.supergroup, "supergroup", "supergroup", "members of this group are superusers too")
	f.DurationVar(&h.softLimit, "lease-soft-limit", time.Minute, "another client may take over a file whose writer has not renewed its lease for this long")
	f.DurationVar(&h.hardLimit, "lease-hard-limit", 20*time.Minute, "the bridge closes a file whose writer has not renewed its lease for this long")
	return cmd
}

func (h *hdfsCmd) run(ctx context.Context) error {
	a := h.a
	b, err := hdfsbridge.Start(hdfsbridge.Config{
		Data:          h.data,
		NameNodeAddr:  h.listen,
		DataNodeAddr:  h.datanode,
		WebHDFSAddr:   h.webhdfs,
		AdvertiseHost: h.advertise,
		BlockSize:     h.blockSize.n,
		Superuser:     h.superuser,
		Supergroup:    h.supergroup,
		SoftLimit:     h.softLimit,
		HardLimit:     h.hardLimit,
		Logger:        a.logger(),
	})
	if err != nil {
		return fmt.Errorf("hdfs: %w", err)
	}
	defer b.Close()
	w := a.env.Stderr
	fmt.Fprintf(w, "namespace  %s\n", b.Root())
	fmt.Fprintf(w, "namenode   hdfs://%s\n", b.NameNodeAddr())
	fmt.Fprintf(w, "datanode   %s\n", b.DataNodeAddr())
	if wa := b.WebHDFSAddr(); wa != nil {
		fmt.Fprintf(w, "webhdfs    http://%s/webhdfs/v1/\n", wa)
	}
	fmt.Fprintf(w, "listening on %s\n", b.NameNodeAddr())
	select {
	case err := <-b.Err():
		return err
	case <-ctx.Done():
	}
	if err := b.Close(); err != nil {
		return fmt.Errorf("hdfs: close: %w", err)
	}
	return nil
}
