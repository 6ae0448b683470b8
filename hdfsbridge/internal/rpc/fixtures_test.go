package rpc

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Fixed values the fixture namenode serves.
const (
	fixtureMtime     = 1_700_000_000_123 // ms
	fixtureAtime     = 1_700_000_000_000 // ms
	fixtureBlockSize = 128 << 20
	fixtureLength    = 12345
	deniedMessage    = `Permission denied: user=alice, access=WRITE, inode="/":root:supergroup:drwxr-xr-x`
	deleteMessage    = "delete refused by the fixture"
)

// accessDenied names its Java class, as the bridge's errors will.
type accessDenied struct{ msg string }

func (e *accessDenied) Error() string     { return e.msg }
func (e *accessDenied) JavaClass() string { return "org.apache.hadoop.security.AccessControlException" }

func fileStatus(path string, dir bool, fileID uint64) *pb.HdfsFileStatusProto {
	st := &pb.HdfsFileStatusProto{
		FileType:         pb.HdfsFileStatusProto_IS_FILE.Enum(),
		Path:             []byte(path),
		Length:           proto.Uint64(fixtureLength),
		Permission:       &pb.FsPermissionProto{Perm: proto.Uint32(0o640)},
		Owner:            proto.String("alice"),
		Group:            proto.String("analysts"),
		ModificationTime: proto.Uint64(fixtureMtime),
		AccessTime:       proto.Uint64(fixtureAtime),
		BlockReplication: proto.Uint32(1),
		Blocksize:        proto.Uint64(fixtureBlockSize),
		FileId:           proto.Uint64(fileID),
	}
	if dir {
		st.FileType = pb.HdfsFileStatusProto_IS_DIR.Enum()
		st.Length = proto.Uint64(0)
		st.Permission.Perm = proto.Uint32(0o755)
		st.ChildrenNum = proto.Int32(2)
	}
	return st
}

// namenode is a tiny method table over a fixed namespace: "/" holds file
// "a" and directory "b"; "/x" is a file.
type namenode struct {
	mu struct {
		sync.Mutex
		calls     []string // method names, in order
		users     []string // Conn.User() of each call
		clientIDs [][]byte // Conn.ClientID() of each call
		remotes   []net.Addr
		renewals  int
	}
}

func (n *namenode) record(c *Conn, method string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.calls = append(n.mu.calls, method)
	n.mu.users = append(n.mu.users, c.User())
	n.mu.clientIDs = append(n.mu.clientIDs, c.ClientID())
	n.mu.remotes = append(n.mu.remotes, c.RemoteAddr())
	if method == "renewLease" {
		n.mu.renewals++
	}
}

func (n *namenode) renewals() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.renewals
}

// method builds a Method whose request is a Req and whose handler is typed.
func method[Req proto.Message](name string, newReq func() Req, call func(ctx context.Context, c *Conn, req Req) (proto.Message, error)) Method {
	return Method{
		Name:       name,
		NewRequest: func() proto.Message { return newReq() },
		Call: func(ctx context.Context, c *Conn, req proto.Message) (proto.Message, error) {
			return call(ctx, c, req.(Req))
		},
	}
}

func (n *namenode) methods() []Method {
	return []Method{
		method("getFileInfo", func() *pb.GetFileInfoRequestProto { return new(pb.GetFileInfoRequestProto) },
			func(_ context.Context, c *Conn, req *pb.GetFileInfoRequestProto) (proto.Message, error) {
				n.record(c, "getFileInfo")
				switch req.GetSrc() {
				case "/x":
					return &pb.GetFileInfoResponseProto{Fs: fileStatus("", false, 16386)}, nil
				case "/":
					return &pb.GetFileInfoResponseProto{Fs: fileStatus("", true, 16385)}, nil
				}
				return &pb.GetFileInfoResponseProto{}, nil // missing: empty success
			}),
		method("getServerDefaults", func() *pb.GetServerDefaultsRequestProto { return new(pb.GetServerDefaultsRequestProto) },
			func(_ context.Context, c *Conn, _ *pb.GetServerDefaultsRequestProto) (proto.Message, error) {
				n.record(c, "getServerDefaults")
				return &pb.GetServerDefaultsResponseProto{ServerDefaults: &pb.FsServerDefaultsProto{
					BlockSize:        proto.Uint64(fixtureBlockSize),
					BytesPerChecksum: proto.Uint32(512),
					WritePacketSize:  proto.Uint32(64 << 10),
					Replication:      proto.Uint32(1),
					FileBufferSize:   proto.Uint32(4096),
					ChecksumType:     pb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(),
				}}, nil
			}),
		method("getListing", func() *pb.GetListingRequestProto { return new(pb.GetListingRequestProto) },
			func(_ context.Context, c *Conn, req *pb.GetListingRequestProto) (proto.Message, error) {
				n.record(c, "getListing")
				if req.GetSrc() != "/" || len(req.GetStartAfter()) != 0 {
					return &pb.GetListingResponseProto{}, nil
				}
				return &pb.GetListingResponseProto{DirList: &pb.DirectoryListingProto{
					PartialListing:   []*pb.HdfsFileStatusProto{fileStatus("a", false, 16387), fileStatus("b", true, 16388)},
					RemainingEntries: proto.Uint32(0),
				}}, nil
			}),
		method("renewLease", func() *pb.RenewLeaseRequestProto { return new(pb.RenewLeaseRequestProto) },
			func(_ context.Context, c *Conn, _ *pb.RenewLeaseRequestProto) (proto.Message, error) {
				n.record(c, "renewLease")
				return &pb.RenewLeaseResponseProto{}, nil
			}),
		method("mkdirs", func() *pb.MkdirsRequestProto { return new(pb.MkdirsRequestProto) },
			func(_ context.Context, c *Conn, _ *pb.MkdirsRequestProto) (proto.Message, error) {
				n.record(c, "mkdirs")
				return nil, &accessDenied{msg: deniedMessage}
			}),
		method("delete", func() *pb.DeleteRequestProto { return new(pb.DeleteRequestProto) },
			func(_ context.Context, c *Conn, _ *pb.DeleteRequestProto) (proto.Message, error) {
				n.record(c, "delete")
				return nil, errors.New(deleteMessage)
			}),
	}
}

// startServer serves opts (with the fixture's methods when opts has none) on
// a loopback listener, and closes it when the test ends, checking that Serve
// returned ErrServerClosed.
func startServer(t *testing.T, opts Options) (*Server, *namenode, string) {
	t.Helper()
	nn := new(namenode)
	if opts.Methods == nil {
		opts.Methods = nn.methods()
	}
	s, err := New(opts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		require.ErrorIs(t, <-done, ErrServerClosed)
	})
	return s, nn, ln.Addr().String()
}
