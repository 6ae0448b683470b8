package namenode

import (
	"google.golang.org/protobuf/proto"

	pb "github.com/marvel-serverless/marvel/hdfsbridge/internal/hadooppb"
	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
)

func (s *server) status(st *namesys.FileStatus, name string) *pb.HdfsFileStatusProto {
	t := pb.HdfsFileStatusProto_IS_FILE
	if st.IsDir {
		t = pb.HdfsFileStatusProto_IS_DIR
	}
	out := &pb.HdfsFileStatusProto{
		FileType:         t.Enum(),
		Path:             []byte(name),
		Length:           proto.Uint64(uint64(st.Length)),
		Permission:       &pb.FsPermissionProto{Perm: proto.Uint32(st.Perm)},
		Owner:            proto.String(st.Owner),
		Group:            proto.String(st.Group),
		ModificationTime: proto.Uint64(uint64(st.Mtime.UnixMilli())),
		AccessTime:       proto.Uint64(uint64(st.Atime.UnixMilli())),
		BlockReplication: proto.Uint32(st.Replication),
		Blocksize:        proto.Uint64(uint64(st.BlockSize)),
		FileId:           proto.Uint64(st.FileID),
		ChildrenNum:      proto.Int32(st.Children),
		StoragePolicy:    proto.Uint32(0),
	}
	return out
}

func (s *server) datanodeID() *pb.DatanodeIDProto {
	return &pb.DatanodeIDProto{
		IpAddr:       proto.String(s.dn.IP),
		HostName:     proto.String(s.dn.Hostname),
		DatanodeUuid: proto.String(s.dn.UUID),
		XferPort:     proto.Uint32(s.dn.XferPort),
		InfoPort:     proto.Uint32(s.dn.InfoPort),
		IpcPort:      proto.Uint32(s.dn.IPCPort),
	}
}

func (s *server) datanodeInfo() *pb.DatanodeInfoProto {
	info := &pb.DatanodeInfoProto{
		Id:       s.datanodeID(),
		Location: proto.String("/default-rack"),
	}
	if st, err := s.fs.Stats(); err == nil {
		info.Capacity = proto.Uint64(uint64(st.Capacity))
		info.DfsUsed = proto.Uint64(uint64(st.Used))
		info.Remaining = proto.Uint64(uint64(st.Remaining))
		info.BlockPoolUsed = proto.Uint64(uint64(st.Used))
	}
	return info
}

func (s *server) extended(b namesys.Block) *pb.ExtendedBlockProto {
	return &pb.ExtendedBlockProto{
		PoolId:          proto.String(s.fs.PoolID()),
		BlockId:         proto.Uint64(uint64(b.ID)),
		GenerationStamp: proto.Uint64(b.GenStamp),
		NumBytes:        proto.Uint64(uint64(b.NumBytes)),
	}
}

func block(b *pb.ExtendedBlockProto) *namesys.Block {
	if b == nil {
		return nil
	}
	return &namesys.Block{ID: int64(b.GetBlockId()), GenStamp: b.GetGenerationStamp(), NumBytes: int64(b.GetNumBytes())}
}

func emptyToken() *pb.TokenProto {
	return &pb.TokenProto{Identifier: []byte{}, Password: []byte{}, Kind: proto.String(""), Service: proto.String("")}
}

// located is a block on the one DataNode. Its storage is reported as DISK:
// NVDIMM (6) is what it is, but Java clients before Hadoop 3.4 cannot
// decode that value.
func (s *server) located(b namesys.Block) *pb.LocatedBlockProto {
	return &pb.LocatedBlockProto{
		B:            s.extended(b),
		Offset:       proto.Uint64(uint64(b.Offset)),
		Locs:         []*pb.DatanodeInfoProto{s.datanodeInfo()},
		Corrupt:      proto.Bool(false),
		BlockToken:   emptyToken(),
		IsCached:     []bool{false},
		StorageTypes: []pb.StorageTypeProto{pb.StorageTypeProto_DISK},
		StorageIDs:   []string{StorageID},
	}
}

func (s *server) locatedBlocks(l *namesys.Located) *pb.LocatedBlocksProto {
	out := &pb.LocatedBlocksProto{
		FileLength:          proto.Uint64(uint64(l.FileLength)),
		UnderConstruction:   proto.Bool(l.UnderConstruction),
		IsLastBlockComplete: proto.Bool(l.LastComplete),
	}
	for _, b := range l.Blocks {
		out.Blocks = append(out.Blocks, s.located(b))
	}
	if l.UnderConstruction && len(l.Blocks) > 0 {
		out.LastBlock = s.located(l.Blocks[len(l.Blocks)-1])
	}
	return out
}
