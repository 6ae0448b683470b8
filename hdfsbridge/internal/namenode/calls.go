package namenode

import (
	"strings"

	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/rpc"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/transfer"
)

func (s *server) getServerDefaults(c *rpc.Conn, _ *pb.GetServerDefaultsRequestProto) (*pb.GetServerDefaultsResponseProto, error) {
	return &pb.GetServerDefaultsResponseProto{ServerDefaults: &pb.FsServerDefaultsProto{
		BlockSize:           proto.Uint64(uint64(s.fs.Config().BlockSize)),
		BytesPerChecksum:    proto.Uint32(transfer.ChunkSize),
		WritePacketSize:     proto.Uint32(64 << 10),
		Replication:         proto.Uint32(1),
		FileBufferSize:      proto.Uint32(4096),
		EncryptDataTransfer: proto.Bool(false),
		TrashInterval:       proto.Uint64(0),
		ChecksumType:        pb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(),
	}}, nil
}

// getFileInfo: a missing path is an empty reply, as HDFS.
func (s *server) getFileInfo(c *rpc.Conn, req *pb.GetFileInfoRequestProto) (*pb.GetFileInfoResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	st, err := s.fs.Stat(s.user(c), p)
	if notFound(err) {
		return &pb.GetFileInfoResponseProto{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &pb.GetFileInfoResponseProto{Fs: s.status(st, "")}, nil
}

// getFileLinkInfo is getFileInfo: there are no symlinks in the namespace.
func (s *server) getFileLinkInfo(c *rpc.Conn, req *pb.GetFileLinkInfoRequestProto) (*pb.GetFileLinkInfoResponseProto, error) {
	r, err := s.getFileInfo(c, &pb.GetFileInfoRequestProto{Src: req.Src})
	if err != nil {
		return nil, err
	}
	return &pb.GetFileLinkInfoResponseProto{Fs: r.Fs}, nil
}

func (s *server) getListing(c *rpc.Conn, req *pb.GetListingRequestProto) (*pb.GetListingResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	u := s.user(c)
	list, remaining, err := s.fs.List(u, p, string(req.GetStartAfter()))
	if notFound(err) {
		return &pb.GetListingResponseProto{}, nil
	}
	if err != nil {
		return nil, err
	}
	dl := &pb.DirectoryListingProto{RemainingEntries: proto.Uint32(uint32(remaining))}
	for _, st := range list {
		ps := s.status(st, st.Name)
		if req.GetNeedLocation() && !st.IsDir {
			l, err := s.fs.Locations(u, p.Child(st.Name), 0, st.Length)
			if err != nil && st.Name == p.Name() {
				l, err = s.fs.Locations(u, p, 0, st.Length) // a file lists itself
			}
			if err == nil {
				ps.Locations = s.locatedBlocks(l)
			}
		}
		dl.PartialListing = append(dl.PartialListing, ps)
	}
	return &pb.GetListingResponseProto{DirList: dl}, nil
}

func (s *server) getBlockLocations(c *rpc.Conn, req *pb.GetBlockLocationsRequestProto) (*pb.GetBlockLocationsResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	off, n := int64(req.GetOffset()), int64(req.GetLength())
	if off < 0 || n < 0 {
		return nil, &namesys.Error{Class: namesys.ClassIllegalArgument, Msg: "getBlockLocations: offset and length must be non-negative"}
	}
	l, err := s.fs.Locations(s.user(c), p, off, n)
	if err != nil {
		return nil, err
	}
	return &pb.GetBlockLocationsResponseProto{Locations: s.locatedBlocks(l)}, nil
}

// CreateFlag bits (CreateFlagProto).
const (
	flagCreate    = 1
	flagOverwrite = 2
	flagAppend    = 4
)

func (s *server) create(c *rpc.Conn, req *pb.CreateRequestProto) (*pb.CreateResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	u := s.user(c)
	flag := req.GetCreateFlag()
	if flag&(flagCreate|flagOverwrite|flagAppend) == 0 {
		return nil, &namesys.Error{Class: namesys.ClassIllegalArgument, Msg: "create " + p.String() + ": createFlag names neither CREATE, OVERWRITE nor APPEND"}
	}
	if flag&flagAppend != 0 && flag&flagOverwrite == 0 {
		if _, err := s.fs.Stat(u, p); err == nil {
			st, _, err := s.fs.Append(u, p, req.GetClientName())
			if err != nil {
				return nil, err
			}
			return &pb.CreateResponseProto{Fs: s.status(st, "")}, nil
		}
	}
	st, err := s.fs.Create(u, p, namesys.CreateOptions{
		Perm:         req.GetMasked().GetPerm(),
		Holder:       req.GetClientName(),
		Overwrite:    flag&flagOverwrite != 0,
		CreateParent: req.GetCreateParent(),
		BlockSize:    int64(req.GetBlockSize()),
	})
	if err != nil {
		return nil, err
	}
	return &pb.CreateResponseProto{Fs: s.status(st, "")}, nil
}

func (s *server) append(c *rpc.Conn, req *pb.AppendRequestProto) (*pb.AppendResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	st, last, err := s.fs.Append(s.user(c), p, req.GetClientName())
	if err != nil {
		return nil, err
	}
	resp := &pb.AppendResponseProto{Stat: s.status(st, "")}
	if last != nil {
		resp.Block = s.located(*last)
	}
	return resp, nil
}

func (s *server) addBlock(c *rpc.Conn, req *pb.AddBlockRequestProto) (*pb.AddBlockResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	b, err := s.fs.AddBlock(p, req.GetClientName(), req.GetFileId(), block(req.GetPrevious()))
	if err != nil {
		return nil, err
	}
	return &pb.AddBlockResponseProto{Block: s.located(*b)}, nil
}

func (s *server) abandonBlock(c *rpc.Conn, req *pb.AbandonBlockRequestProto) (*pb.AbandonBlockResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if err := s.fs.AbandonBlock(p, req.GetHolder(), req.GetFileId(), *block(req.GetB())); err != nil {
		return nil, err
	}
	return &pb.AbandonBlockResponseProto{}, nil
}

func (s *server) complete(c *rpc.Conn, req *pb.CompleteRequestProto) (*pb.CompleteResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	ok, err := s.fs.Complete(s.user(c), p, req.GetClientName(), req.GetFileId(), block(req.GetLast()))
	if err != nil {
		return nil, err
	}
	return &pb.CompleteResponseProto{Result: proto.Bool(ok)}, nil
}

func (s *server) updateBlockForPipeline(c *rpc.Conn, req *pb.UpdateBlockForPipelineRequestProto) (*pb.UpdateBlockForPipelineResponseProto, error) {
	b := block(req.GetBlock())
	if b == nil {
		return nil, &namesys.Error{Class: namesys.ClassIllegalArgument, Msg: "updateBlockForPipeline: no block"}
	}
	nb, err := s.fs.NewGenStamp(req.GetClientName(), *b)
	if err != nil {
		return nil, err
	}
	return &pb.UpdateBlockForPipelineResponseProto{Block: s.located(*nb)}, nil
}

func (s *server) updatePipeline(c *rpc.Conn, req *pb.UpdatePipelineRequestProto) (*pb.UpdatePipelineResponseProto, error) {
	ob, nb := block(req.GetOldBlock()), block(req.GetNewBlock())
	if ob == nil || nb == nil || ob.ID != nb.ID {
		return nil, &namesys.Error{Class: namesys.ClassIllegalArgument, Msg: "updatePipeline: the old and new blocks must be the same block"}
	}
	if err := s.fs.CommitGenStamp(req.GetClientName(), *ob, *nb); err != nil {
		return nil, err
	}
	return &pb.UpdatePipelineResponseProto{}, nil
}

func (s *server) getAdditionalDatanode(c *rpc.Conn, req *pb.GetAdditionalDatanodeRequestProto) (*pb.GetAdditionalDatanodeResponseProto, error) {
	return nil, &namesys.Error{Class: namesys.ClassIO, Msg: "getAdditionalDatanode: the Marvel bridge is a single DataNode holding one replica of each block (replication 1); there is no other DataNode to add"}
}

func (s *server) fsync(c *rpc.Conn, req *pb.FsyncRequestProto) (*pb.FsyncResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if err := s.fs.Fsync(p, req.GetClient(), req.GetFileId()); err != nil {
		return nil, err
	}
	return &pb.FsyncResponseProto{}, nil
}

func (s *server) renewLease(c *rpc.Conn, req *pb.RenewLeaseRequestProto) (*pb.RenewLeaseResponseProto, error) {
	s.fs.RenewLease(req.GetClientName())
	return &pb.RenewLeaseResponseProto{}, nil
}

func (s *server) recoverLease(c *rpc.Conn, req *pb.RecoverLeaseRequestProto) (*pb.RecoverLeaseResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	ok, err := s.fs.RecoverLease(s.user(c), p, req.GetClientName())
	if err != nil {
		return nil, err
	}
	return &pb.RecoverLeaseResponseProto{Result: proto.Bool(ok)}, nil
}

func (s *server) isFileClosed(c *rpc.Conn, req *pb.IsFileClosedRequestProto) (*pb.IsFileClosedResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	ok, err := s.fs.IsFileClosed(s.user(c), p)
	if err != nil {
		return nil, err
	}
	return &pb.IsFileClosedResponseProto{Result: proto.Bool(ok)}, nil
}

func (s *server) rename(c *rpc.Conn, req *pb.RenameRequestProto) (*pb.RenameResponseProto, error) {
	src, dst, err := paths(req.GetSrc(), req.GetDst())
	if err != nil {
		return nil, err
	}
	ok, err := s.fs.RenameOld(s.user(c), src, dst)
	if err != nil {
		return nil, err
	}
	return &pb.RenameResponseProto{Result: proto.Bool(ok)}, nil
}

func (s *server) rename2(c *rpc.Conn, req *pb.Rename2RequestProto) (*pb.Rename2ResponseProto, error) {
	src, dst, err := paths(req.GetSrc(), req.GetDst())
	if err != nil {
		return nil, err
	}
	if err := s.fs.Rename(s.user(c), src, dst, req.GetOverwriteDest()); err != nil {
		return nil, err
	}
	return &pb.Rename2ResponseProto{}, nil
}

func (s *server) delete(c *rpc.Conn, req *pb.DeleteRequestProto) (*pb.DeleteResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	ok, err := s.fs.Delete(s.user(c), p, req.GetRecursive())
	if err != nil {
		return nil, err
	}
	return &pb.DeleteResponseProto{Result: proto.Bool(ok)}, nil
}

func (s *server) mkdirs(c *rpc.Conn, req *pb.MkdirsRequestProto) (*pb.MkdirsResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if err := s.fs.Mkdirs(s.user(c), p, req.GetMasked().GetPerm(), req.GetCreateParent()); err != nil {
		return nil, err
	}
	return &pb.MkdirsResponseProto{Result: proto.Bool(true)}, nil
}

func (s *server) setPermission(c *rpc.Conn, req *pb.SetPermissionRequestProto) (*pb.SetPermissionResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if err := s.fs.SetPermission(s.user(c), p, req.GetPermission().GetPerm()); err != nil {
		return nil, err
	}
	return &pb.SetPermissionResponseProto{}, nil
}

func (s *server) setOwner(c *rpc.Conn, req *pb.SetOwnerRequestProto) (*pb.SetOwnerResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if err := s.fs.SetOwner(s.user(c), p, req.GetUsername(), req.GetGroupname()); err != nil {
		return nil, err
	}
	return &pb.SetOwnerResponseProto{}, nil
}

func (s *server) setTimes(c *rpc.Conn, req *pb.SetTimesRequestProto) (*pb.SetTimesResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if err := s.fs.SetTimes(s.user(c), p, int64(req.GetMtime()), int64(req.GetAtime())); err != nil {
		return nil, err
	}
	return &pb.SetTimesResponseProto{}, nil
}

func (s *server) setReplication(c *rpc.Conn, req *pb.SetReplicationRequestProto) (*pb.SetReplicationResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	ok, err := s.fs.SetReplication(s.user(c), p, req.GetReplication())
	if err != nil {
		return nil, err
	}
	return &pb.SetReplicationResponseProto{Result: proto.Bool(ok)}, nil
}

func (s *server) truncate(c *rpc.Conn, req *pb.TruncateRequestProto) (*pb.TruncateResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	ok, err := s.fs.Truncate(s.user(c), p, int64(req.GetNewLength()), req.GetClientName())
	if err != nil {
		return nil, err
	}
	return &pb.TruncateResponseProto{Result: proto.Bool(ok)}, nil
}

// Quotas are reported honestly: there are none (-1), the namespace is bounded
// only by its file system (getFsStats).
func (s *server) getContentSummary(c *rpc.Conn, req *pb.GetContentSummaryRequestProto) (*pb.GetContentSummaryResponseProto, error) {
	p, err := path(req.GetPath())
	if err != nil {
		return nil, err
	}
	cs, err := s.fs.Summary(s.user(c), p)
	if err != nil {
		return nil, err
	}
	return &pb.GetContentSummaryResponseProto{Summary: &pb.ContentSummaryProto{
		Length:         proto.Uint64(uint64(cs.Length)),
		FileCount:      proto.Uint64(uint64(cs.FileCount)),
		DirectoryCount: proto.Uint64(uint64(cs.DirectoryCount)),
		Quota:          proto.Uint64(minusOne),
		SpaceConsumed:  proto.Uint64(uint64(cs.SpaceConsumed)),
		SpaceQuota:     proto.Uint64(minusOne),
	}}, nil
}

func (s *server) getQuotaUsage(c *rpc.Conn, req *pb.GetQuotaUsageRequestProto) (*pb.GetQuotaUsageResponseProto, error) {
	p, err := path(req.GetPath())
	if err != nil {
		return nil, err
	}
	cs, err := s.fs.Summary(s.user(c), p)
	if err != nil {
		return nil, err
	}
	return &pb.GetQuotaUsageResponseProto{Usage: &pb.QuotaUsageProto{
		FileAndDirectoryCount: proto.Uint64(uint64(cs.FileCount + cs.DirectoryCount)),
		Quota:                 proto.Uint64(minusOne),
		SpaceConsumed:         proto.Uint64(uint64(cs.SpaceConsumed)),
		SpaceQuota:            proto.Uint64(minusOne),
	}}, nil
}

func (s *server) getFsStats(c *rpc.Conn, _ *pb.GetFsStatusRequestProto) (*pb.GetFsStatsResponseProto, error) {
	st, err := s.fs.Stats()
	if err != nil {
		return nil, err
	}
	return &pb.GetFsStatsResponseProto{
		Capacity:        proto.Uint64(uint64(st.Capacity)),
		Used:            proto.Uint64(uint64(st.Used)),
		Remaining:       proto.Uint64(uint64(st.Remaining)),
		UnderReplicated: proto.Uint64(0),
		CorruptBlocks:   proto.Uint64(0),
		MissingBlocks:   proto.Uint64(0),
	}, nil
}

func (s *server) getDatanodeReport(c *rpc.Conn, req *pb.GetDatanodeReportRequestProto) (*pb.GetDatanodeReportResponseProto, error) {
	switch req.GetType() {
	case pb.DatanodeReportTypeProto_DEAD, pb.DatanodeReportTypeProto_DECOMMISSIONING:
		return &pb.GetDatanodeReportResponseProto{}, nil
	}
	return &pb.GetDatanodeReportResponseProto{Di: []*pb.DatanodeInfoProto{s.datanodeInfo()}}, nil
}

// setSafeMode: the bridge is never in safe mode; entering it is refused.
func (s *server) setSafeMode(c *rpc.Conn, req *pb.SetSafeModeRequestProto) (*pb.SetSafeModeResponseProto, error) {
	if req.GetAction() == pb.SafeModeActionProto_SAFEMODE_ENTER {
		if err := s.superuser(c); err != nil {
			return nil, err
		}
		return nil, &namesys.Error{Class: namesys.ClassUnsupported, Msg: "the Marvel bridge has no safe mode: its namespace is consistent after every call"}
	}
	return &pb.SetSafeModeResponseProto{Result: proto.Bool(false)}, nil
}

// superuser refuses callers that are not superusers, for the calls HDFS
// keeps to them.
func (s *server) superuser(c *rpc.Conn) error {
	if s.fs.IsSuperuser(s.user(c)) {
		return nil
	}
	return &namesys.Error{Class: namesys.ClassAccessControl, Msg: "Access denied for user " + c.User() + ". Superuser privilege is required"}
}

// getDataEncryptionKey: data transfer is not encrypted (getServerDefaults
// says so); no key.
func (s *server) getDataEncryptionKey(c *rpc.Conn, _ *pb.GetDataEncryptionKeyRequestProto) (*pb.GetDataEncryptionKeyResponseProto, error) {
	return &pb.GetDataEncryptionKeyResponseProto{}, nil
}

var xattrNS = map[pb.XAttrProto_XAttrNamespaceProto]string{
	pb.XAttrProto_USER: "user", pb.XAttrProto_TRUSTED: "trusted", pb.XAttrProto_SECURITY: "security",
	pb.XAttrProto_SYSTEM: "system", pb.XAttrProto_RAW: "raw",
}

func xattrName(x *pb.XAttrProto) string { return xattrNS[x.GetNamespace()] + "." + x.GetName() }

func xattrProto(name string, value []byte, withValue bool) *pb.XAttrProto {
	ns, rest, _ := strings.Cut(name, ".")
	x := &pb.XAttrProto{Name: proto.String(rest)}
	for k, v := range xattrNS {
		if v == ns {
			x.Namespace = k.Enum()
		}
	}
	if x.Namespace == nil {
		x.Namespace = pb.XAttrProto_USER.Enum()
	}
	if withValue {
		x.Value = value
		if x.Value == nil {
			x.Value = []byte{}
		}
	}
	return x
}

func (s *server) getXAttrs(c *rpc.Conn, req *pb.GetXAttrsRequestProto) (*pb.GetXAttrsResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, x := range req.GetXAttrs() {
		names = append(names, xattrName(x))
	}
	xs, err := s.fs.GetXAttrs(s.user(c), p, names)
	if err != nil {
		return nil, err
	}
	resp := &pb.GetXAttrsResponseProto{}
	for _, x := range xs {
		resp.XAttrs = append(resp.XAttrs, xattrProto(x.Name, x.Value, true))
	}
	return resp, nil
}

func (s *server) listXAttrs(c *rpc.Conn, req *pb.ListXAttrsRequestProto) (*pb.ListXAttrsResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	names, err := s.fs.ListXAttrs(s.user(c), p)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListXAttrsResponseProto{}
	for _, n := range names {
		resp.XAttrs = append(resp.XAttrs, xattrProto(n, nil, false))
	}
	return resp, nil
}

func (s *server) setXAttr(c *rpc.Conn, req *pb.SetXAttrRequestProto) (*pb.SetXAttrResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if req.GetXAttr() == nil {
		return nil, &namesys.Error{Class: namesys.ClassIllegalArgument, Msg: "setXAttr " + p.String() + ": no attribute given"}
	}
	x := namesys.XAttr{Name: xattrName(req.GetXAttr()), Value: req.GetXAttr().GetValue()}
	if err := s.fs.SetXAttr(s.user(c), p, x, req.GetFlag()); err != nil {
		return nil, err
	}
	return &pb.SetXAttrResponseProto{}, nil
}

func (s *server) removeXAttr(c *rpc.Conn, req *pb.RemoveXAttrRequestProto) (*pb.RemoveXAttrResponseProto, error) {
	p, err := path(req.GetSrc())
	if err != nil {
		return nil, err
	}
	if req.GetXAttr() == nil {
		return nil, &namesys.Error{Class: namesys.ClassIllegalArgument, Msg: "removeXAttr " + p.String() + ": no attribute given"}
	}
	if err := s.fs.RemoveXAttr(s.user(c), p, xattrName(req.GetXAttr())); err != nil {
		return nil, err
	}
	return &pb.RemoveXAttrResponseProto{}, nil
}

// Snapshots are not offered: no directory is snapshottable, and making one so
// is refused with a SnapshotException that says why. Allowing and
// disallowing are the superuser's, as in HDFS.
func (s *server) allowSnapshot(c *rpc.Conn, req *pb.AllowSnapshotRequestProto) (*pb.AllowSnapshotResponseProto, error) {
	if err := s.superuser(c); err != nil {
		return nil, err
	}
	if _, err := s.snapshotRoot(c, req.GetSnapshotRoot()); err != nil {
		return nil, err
	}
	return nil, &namesys.Error{Class: namesys.ClassSnapshot, Msg: "allowSnapshot " + req.GetSnapshotRoot() + ": the Marvel bridge does not support snapshots (files live in PMEM with one copy; copy the directory instead)"}
}

func (s *server) disallowSnapshot(c *rpc.Conn, req *pb.DisallowSnapshotRequestProto) (*pb.DisallowSnapshotResponseProto, error) {
	if err := s.superuser(c); err != nil {
		return nil, err
	}
	if _, err := s.snapshotRoot(c, req.GetSnapshotRoot()); err != nil {
		return nil, err
	}
	return &pb.DisallowSnapshotResponseProto{}, nil
}

func (s *server) createSnapshot(c *rpc.Conn, req *pb.CreateSnapshotRequestProto) (*pb.CreateSnapshotResponseProto, error) {
	if _, err := s.snapshotRoot(c, req.GetSnapshotRoot()); err != nil {
		return nil, err
	}
	return nil, &namesys.Error{Class: namesys.ClassSnapshot, Msg: "Directory is not a snapshottable directory: " + req.GetSnapshotRoot() + " (the Marvel bridge does not support snapshots)"}
}

func (s *server) deleteSnapshot(c *rpc.Conn, req *pb.DeleteSnapshotRequestProto) (*pb.DeleteSnapshotResponseProto, error) {
	if _, err := s.snapshotRoot(c, req.GetSnapshotRoot()); err != nil {
		return nil, err
	}
	return nil, &namesys.Error{Class: namesys.ClassSnapshot, Msg: "Directory is not a snapshottable directory: " + req.GetSnapshotRoot() + " (the Marvel bridge does not support snapshots)"}
}

func (s *server) snapshotRoot(c *rpc.Conn, root string) (*namesys.FileStatus, error) {
	p, err := path(root)
	if err != nil {
		return nil, err
	}
	u := s.user(c)
	st, err := s.fs.Stat(u, p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir {
		return nil, &namesys.Error{Class: namesys.ClassSnapshot, Msg: "Path is not a directory: " + root}
	}
	return st, nil
}
