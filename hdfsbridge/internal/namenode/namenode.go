// Package namenode is ClientNamenodeProtocol over the bridge's namespace: the
// rpc package's method table for every call github.com/colinmarc/hdfs/v2
// makes in its public API, and the ones Java clients are known to make
// (old rename, setReplication, fsync, listings with locations,
// updatePipeline, abandonBlock, recoverLease, isFileClosed, quota usage,
// datanode report, safe mode). Each method turns the request into a
// namesys call and the answer into the reply; errors keep the Java class
// namesys gives them.
package namenode

import (
	"context"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/rpc"
)

// DataNode describes the one DataNode that holds every block.
type DataNode struct {
	IP       string // reachable address clients dial, e.g. "127.0.0.1"
	Hostname string
	UUID     string
	XferPort uint32 // DataTransferProtocol
	InfoPort uint32 // HTTP (WebHDFS)
	IPCPort  uint32
}

// Options configure the method table.
type Options struct {
	FS       *namesys.FS
	DataNode DataNode
}

// StorageID is the one storage every block lives on.
const StorageID = "DS-marvel-pmem-0"

type server struct {
	fs *namesys.FS
	dn DataNode

	mu     sync.Mutex
	groups map[string]cachedGroups
}

type cachedGroups struct {
	groups []string
	at     time.Time
}

// groupTTL is how long a user's groups are reused before they are looked up
// again (HDFS caches them for 300 s).
const groupTTL = 5 * time.Minute

func (s *server) user(c *rpc.Conn) namesys.User {
	name := c.User()
	s.mu.Lock()
	g, ok := s.groups[name]
	s.mu.Unlock()
	if ok && time.Since(g.at) < groupTTL {
		return namesys.User{Name: name, Groups: g.groups}
	}
	u := s.fs.UserOf(name)
	s.mu.Lock()
	if len(s.groups) > 10000 {
		s.groups = map[string]cachedGroups{}
	}
	s.groups[name] = cachedGroups{groups: u.Groups, at: time.Now()}
	s.mu.Unlock()
	return u
}

// method builds one table entry from a typed handler.
func method[Req, Resp proto.Message](name string, call func(c *rpc.Conn, req Req) (Resp, error)) rpc.Method {
	return rpc.Method{
		Name: name,
		NewRequest: func() proto.Message {
			var zero Req
			return zero.ProtoReflect().New().Interface()
		},
		Call: func(_ context.Context, c *rpc.Conn, req proto.Message) (proto.Message, error) {
			resp, err := call(c, req.(Req))
			if err != nil {
				return nil, err
			}
			return resp, nil
		},
	}
}

func path(s string) (namesys.Path, error) { return namesys.ParsePath(s) }

func paths(a, b string) (namesys.Path, namesys.Path, error) {
	p, err := path(a)
	if err != nil {
		return p, p, err
	}
	q, err := path(b)
	return p, q, err
}

// notFound reports the namespace's "does not exist" answer, which some
// calls turn into an empty success.
func notFound(err error) bool { return namesys.ClassOf(err) == namesys.ClassFileNotFound }

// minusOne is -1 as HDFS sends it in unsigned fields (quotas).
const minusOne = math.MaxUint64

// Methods returns the method table.
func Methods(o Options) []rpc.Method {
	s := &server{fs: o.FS, dn: o.DataNode, groups: map[string]cachedGroups{}}
	return []rpc.Method{
		method("getServerDefaults", s.getServerDefaults),
		method("getFileInfo", s.getFileInfo),
		method("getFileLinkInfo", s.getFileLinkInfo),
		method("getListing", s.getListing),
		method("getBlockLocations", s.getBlockLocations),
		method("create", s.create),
		method("append", s.append),
		method("addBlock", s.addBlock),
		method("abandonBlock", s.abandonBlock),
		method("complete", s.complete),
		method("updateBlockForPipeline", s.updateBlockForPipeline),
		method("updatePipeline", s.updatePipeline),
		method("getAdditionalDatanode", s.getAdditionalDatanode),
		method("fsync", s.fsync),
		method("renewLease", s.renewLease),
		method("recoverLease", s.recoverLease),
		method("isFileClosed", s.isFileClosed),
		method("rename", s.rename),
		method("rename2", s.rename2),
		method("delete", s.delete),
		method("mkdirs", s.mkdirs),
		method("setPermission", s.setPermission),
		method("setOwner", s.setOwner),
		method("setTimes", s.setTimes),
		method("setReplication", s.setReplication),
		method("truncate", s.truncate),
		method("getContentSummary", s.getContentSummary),
		method("getQuotaUsage", s.getQuotaUsage),
		method("getFsStats", s.getFsStats),
		method("getDatanodeReport", s.getDatanodeReport),
		method("setSafeMode", s.setSafeMode),
		method("getDataEncryptionKey", s.getDataEncryptionKey),
		method("getXAttrs", s.getXAttrs),
		method("listXAttrs", s.listXAttrs),
		method("setXAttr", s.setXAttr),
		method("removeXAttr", s.removeXAttr),
		method("allowSnapshot", s.allowSnapshot),
		method("disallowSnapshot", s.disallowSnapshot),
		method("createSnapshot", s.createSnapshot),
		method("deleteSnapshot", s.deleteSnapshot),
	}
}
