package webhdfs

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
)

// fileStatus is the JSON FileStatus object.
type fileStatus struct {
	AccessTime       int64  `json:"accessTime"`
	BlockSize        int64  `json:"blockSize"`
	ChildrenNum      int32  `json:"childrenNum"`
	FileID           uint64 `json:"fileId"`
	Group            string `json:"group"`
	Length           int64  `json:"length"`
	ModificationTime int64  `json:"modificationTime"`
	Owner            string `json:"owner"`
	PathSuffix       string `json:"pathSuffix"`
	Permission       string `json:"permission"`
	Replication      uint32 `json:"replication"`
	StoragePolicy    int    `json:"storagePolicy"`
	Type             string `json:"type"`
}

// permString is a permission as WebHDFS writes it: octal, the sticky bit
// included ("644", "1777").
func permString(perm uint32) string { return strconv.FormatUint(uint64(perm&0o1777), 8) }

func toFileStatus(st *namesys.FileStatus, suffix string) fileStatus {
	fs := fileStatus{
		AccessTime:       st.Atime.UnixMilli(),
		BlockSize:        st.BlockSize,
		ChildrenNum:      max(st.Children, 0),
		FileID:           st.FileID,
		Group:            st.Group,
		Length:           st.Length,
		ModificationTime: st.Mtime.UnixMilli(),
		Owner:            st.Owner,
		PathSuffix:       suffix,
		Permission:       permString(st.Perm),
		Replication:      st.Replication,
		Type:             "FILE",
	}
	if st.IsDir {
		fs.Type = "DIRECTORY"
		fs.BlockSize, fs.Length, fs.Replication = 0, 0, 0
	}
	return fs
}

type jsonBoolean struct {
	Boolean bool `json:"boolean"`
}

type jsonPath struct {
	Path string `json:"Path"`
}

func (c *call) getFileStatus() error {
	st, err := c.s.fs.Stat(c.user, c.p)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, map[string]fileStatus{"FileStatus": toFileStatus(st, "")})
}

// firstPage lists the first page after startAfter. A file lists itself,
// with an empty suffix; isFile reports it.
func (c *call) firstPage(startAfter string) (page []*namesys.FileStatus, remaining int, isFile bool, err error) {
	page, remaining, err = c.s.fs.List(c.user, c.p, startAfter)
	if err != nil {
		return nil, 0, false, err
	}
	// List of a file is the file itself; a directory holding one file of
	// its own name looks the same, so ask.
	if len(page) == 1 && remaining == 0 && !page[0].IsDir && page[0].Name == c.p.Name() {
		st, err := c.s.fs.Stat(c.user, c.p)
		if err != nil {
			return nil, 0, false, err
		}
		if !st.IsDir {
			return []*namesys.FileStatus{st}, 0, true, nil
		}
	}
	return page, remaining, false, nil
}

// listStatus streams every page of the listing as one FileStatuses array;
// only the first page is read before the reply starts, so a huge directory
// is never held whole. A failure after the first page aborts the reply.
func (c *call) listStatus() error {
	page, remaining, isFile, err := c.firstPage("")
	if err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.w, 32<<10)
	bw.WriteString(`{"FileStatuses":{"FileStatus":[`)
	first := true
	for {
		for _, st := range page {
			suffix := st.Name
			if isFile {
				suffix = ""
			}
			b, _ := json.Marshal(toFileStatus(st, suffix))
			if !first {
				bw.WriteByte(',')
			}
			first = false
			bw.Write(b)
		}
		if remaining == 0 || len(page) == 0 || isFile {
			break
		}
		if err := bw.Flush(); err != nil {
			return nil // the client went away
		}
		page, remaining, err = c.s.fs.List(c.user, c.p, page[len(page)-1].Name)
		if err != nil {
			c.s.log.Warn("webhdfs LISTSTATUS: a later page failed; the reply is cut short", "path", c.p.String(), "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	bw.WriteString(`]}}`)
	bw.Flush()
	return nil
}

func (c *call) listStatusBatch() error {
	after := c.q.get("startafter")
	page, remaining, isFile, err := c.firstPage(after)
	if err != nil {
		return err
	}
	list := make([]fileStatus, 0, len(page))
	for _, st := range page {
		suffix := st.Name
		if isFile {
			suffix = ""
		}
		list = append(list, toFileStatus(st, suffix))
	}
	type statuses struct {
		FileStatus []fileStatus `json:"FileStatus"`
	}
	type partial struct {
		FileStatuses statuses `json:"FileStatuses"`
	}
	type listing struct {
		PartialListing   partial `json:"partialListing"`
		RemainingEntries int     `json:"remainingEntries"`
	}
	return c.writeJSON(http.StatusOK, map[string]listing{"DirectoryListing": {
		PartialListing:   partial{FileStatuses: statuses{FileStatus: list}},
		RemainingEntries: remaining,
	}})
}

func (c *call) getContentSummary() error {
	cs, err := c.s.fs.Summary(c.user, c.p)
	if err != nil {
		return err
	}
	type summary struct {
		DirectoryCount int64 `json:"directoryCount"`
		FileCount      int64 `json:"fileCount"`
		Length         int64 `json:"length"`
		Quota          int64 `json:"quota"`
		SpaceConsumed  int64 `json:"spaceConsumed"`
		SpaceQuota     int64 `json:"spaceQuota"`
	}
	return c.writeJSON(http.StatusOK, map[string]summary{"ContentSummary": {
		DirectoryCount: cs.DirectoryCount, FileCount: cs.FileCount, Length: cs.Length,
		Quota: -1, SpaceConsumed: cs.SpaceConsumed, SpaceQuota: -1,
	}})
}

func (c *call) getQuotaUsage() error {
	cs, err := c.s.fs.Summary(c.user, c.p)
	if err != nil {
		return err
	}
	type usage struct {
		FileAndDirectoryCount int64 `json:"fileAndDirectoryCount"`
		Quota                 int64 `json:"quota"`
		SpaceConsumed         int64 `json:"spaceConsumed"`
		SpaceQuota            int64 `json:"spaceQuota"`
	}
	return c.writeJSON(http.StatusOK, map[string]usage{"QuotaUsage": {
		FileAndDirectoryCount: cs.FileCount + cs.DirectoryCount, Quota: -1,
		SpaceConsumed: cs.SpaceConsumed, SpaceQuota: -1,
	}})
}

func (c *call) getHomeDirectory() error {
	return c.writeJSON(http.StatusOK, jsonPath{Path: "/user/" + c.user.Name})
}

func (c *call) getTrashRoot() error {
	return c.writeJSON(http.StatusOK, jsonPath{Path: "/user/" + c.user.Name + "/.Trash"})
}

func (c *call) getStatus() error {
	st, err := c.s.fs.Stats()
	if err != nil {
		return err
	}
	type fsStatus struct {
		Used      int64 `json:"used"`
		Remaining int64 `json:"remaining"`
		Capacity  int64 `json:"capacity"`
	}
	return c.writeJSON(http.StatusOK, map[string]fsStatus{"FsStatus": {Used: st.Used, Remaining: st.Remaining, Capacity: st.Capacity}})
}

// getACLStatus reports the permission bits with no ACL entries: the bridge
// keeps POSIX permissions only.
func (c *call) getACLStatus() error {
	st, err := c.s.fs.Stat(c.user, c.p)
	if err != nil {
		return err
	}
	type aclStatus struct {
		Entries    []string `json:"entries"`
		Group      string   `json:"group"`
		Owner      string   `json:"owner"`
		Permission string   `json:"permission"`
		StickyBit  bool     `json:"stickyBit"`
	}
	return c.writeJSON(http.StatusOK, map[string]aclStatus{"AclStatus": {
		Entries: []string{}, Group: st.Group, Owner: st.Owner,
		Permission: permString(st.Perm), StickyBit: st.Perm&0o1000 != 0,
	}})
}

func (c *call) mkdirs() error {
	perm, err := c.q.permission(0o755)
	if err != nil {
		return err
	}
	if err := c.s.fs.Mkdirs(c.user, c.p, perm, true); err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, jsonBoolean{true})
}

// rename is the old rename ({"boolean"}, false on the failures rename2
// throws) unless renameoptions is given: then rename2, with OVERWRITE if
// named, answered with an empty 200 as Hadoop does.
func (c *call) rename() error {
	dst, err := c.q.path("destination")
	if err != nil {
		return err
	}
	if opts, ok := c.q["renameoptions"]; ok {
		overwrite := false
		for _, o := range strings.Split(opts[0], ",") {
			switch asciiUpper(strings.TrimSpace(o)) {
			case "NONE", "":
			case "OVERWRITE":
				overwrite = true
			default:
				return badValue("renameoptions", opts[0], "is not a list of NONE and OVERWRITE")
			}
		}
		if err := c.s.fs.Rename(c.user, c.p, dst, overwrite); err != nil {
			return err
		}
		c.writeEmpty(http.StatusOK)
		return nil
	}
	ok, err := c.s.fs.RenameOld(c.user, c.p, dst)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, jsonBoolean{ok})
}

func (c *call) delete() error {
	recursive, err := c.q.boolean("recursive", false)
	if err != nil {
		return err
	}
	ok, err := c.s.fs.Delete(c.user, c.p, recursive)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, jsonBoolean{ok})
}

// setPermission defaults to 755 without a permission, as Hadoop's
// PermissionParam does.
func (c *call) setPermission() error {
	perm, err := c.q.permission(0o755)
	if err != nil {
		return err
	}
	if err := c.s.fs.SetPermission(c.user, c.p, perm); err != nil {
		return err
	}
	c.writeEmpty(http.StatusOK)
	return nil
}

func (c *call) setOwner() error {
	owner, err := c.q.principal("owner")
	if err != nil {
		return err
	}
	group, err := c.q.principal("group")
	if err != nil {
		return err
	}
	if owner == "" && group == "" {
		return errf(classIllegalArgument, "Both owner and group are empty.")
	}
	if err := c.s.fs.SetOwner(c.user, c.p, owner, group); err != nil {
		return err
	}
	c.writeEmpty(http.StatusOK)
	return nil
}

func (c *call) setTimes() error {
	mtime, err := c.q.integer("modificationtime", -1, -1, maxTimeMs)
	if err != nil {
		return err
	}
	atime, err := c.q.integer("accesstime", -1, -1, maxTimeMs)
	if err != nil {
		return err
	}
	if err := c.s.fs.SetTimes(c.user, c.p, mtime, atime); err != nil {
		return err
	}
	c.writeEmpty(http.StatusOK)
	return nil
}

// setReplication accepts a factor (Hadoop's short, default 3) and ignores
// it: there is one copy.
func (c *call) setReplication() error {
	r, err := c.q.integer("replication", 3, 1, 32767)
	if err != nil {
		return err
	}
	ok, err := c.s.fs.SetReplication(c.user, c.p, uint32(r))
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, jsonBoolean{ok})
}

func (c *call) truncate() error {
	n, err := c.q.required("newlength", 0, maxInt64)
	if err != nil {
		return err
	}
	ok, err := c.s.fs.Truncate(c.user, c.p, n, "webhdfs-"+c.user.Name)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, jsonBoolean{ok})
}

// XAttr values travel encoded as Hadoop's XAttrCodec: "0x" and hex, "0s"
// and base64, or text in double quotes.
func encodeXAttrValue(v []byte, encoding string) string {
	switch encoding {
	case "HEX":
		return "0x" + hex.EncodeToString(v)
	case "BASE64":
		return "0s" + base64.StdEncoding.EncodeToString(v)
	}
	return `"` + string(v) + `"`
}

func decodeXAttrValue(s string) ([]byte, error) {
	if len(s) >= 2 {
		switch {
		case s[0] == '"' && s[len(s)-1] == '"':
			return []byte(s[1 : len(s)-1]), nil
		case s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
			b, err := hex.DecodeString(s[2:])
			if err != nil {
				return nil, badValue("xattr.value", s, "is not valid hex after 0x")
			}
			return b, nil
		case s[0] == '0' && (s[1] == 's' || s[1] == 'S'):
			b, err := base64.StdEncoding.DecodeString(s[2:])
			if err != nil {
				return nil, badValue("xattr.value", s, "is not valid base64 after 0s")
			}
			return b, nil
		}
	}
	return []byte(s), nil
}

func (c *call) xattrEncoding() (string, error) {
	e := asciiUpper(c.q.get("encoding"))
	switch e {
	case "", "TEXT", "HEX", "BASE64":
		return e, nil
	}
	return "", badValue("encoding", c.q.get("encoding"), "is not TEXT, HEX or BASE64")
}

func (c *call) getXAttrs() error {
	enc, err := c.xattrEncoding()
	if err != nil {
		return err
	}
	var names []string
	for _, n := range c.q["xattr.name"] {
		if n != "" {
			names = append(names, n)
		}
	}
	xs, err := c.s.fs.GetXAttrs(c.user, c.p, names)
	if err != nil {
		return err
	}
	type xattr struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	out := make([]xattr, 0, len(xs))
	for _, x := range xs {
		e := enc
		if e == "" && !utf8.Valid(x.Value) {
			e = "HEX" // text would not survive JSON
		}
		out = append(out, xattr{Name: x.Name, Value: encodeXAttrValue(x.Value, e)})
	}
	return c.writeJSON(http.StatusOK, map[string][]xattr{"XAttrs": out})
}

// listXAttrs answers {"XAttrNames":"[\"user.a\",...]"}: the names as a JSON
// array inside a string, as Hadoop does.
func (c *call) listXAttrs() error {
	names, err := c.s.fs.ListXAttrs(c.user, c.p)
	if err != nil {
		return err
	}
	if names == nil {
		names = []string{}
	}
	inner, _ := json.Marshal(names)
	return c.writeJSON(http.StatusOK, map[string]string{"XAttrNames": string(inner)})
}

func (c *call) setXAttr() error {
	name := c.q.get("xattr.name")
	if name == "" {
		return errf(classIllegalArgument, "webhdfs parameter \"xattr.name\" is required")
	}
	if len(c.q["xattr.name"]) > 1 {
		return errf(classIllegalArgument, "webhdfs parameter \"xattr.name\" is given %d times; SETXATTR sets one", len(c.q["xattr.name"]))
	}
	value, err := decodeXAttrValue(c.q.get("xattr.value"))
	if err != nil {
		return err
	}
	var flag uint32
	if f := c.q.get("flag"); f != "" {
		for _, part := range strings.Split(f, ",") {
			switch asciiUpper(strings.TrimSpace(part)) {
			case "CREATE":
				flag |= namesys.XAttrCreate
			case "REPLACE":
				flag |= namesys.XAttrReplace
			default:
				return badValue("flag", f, "is not a list of CREATE and REPLACE")
			}
		}
	}
	if err := c.s.fs.SetXAttr(c.user, c.p, namesys.XAttr{Name: name, Value: value}, flag); err != nil {
		return err
	}
	c.writeEmpty(http.StatusOK)
	return nil
}

func (c *call) removeXAttr() error {
	name := c.q.get("xattr.name")
	if name == "" || len(c.q["xattr.name"]) > 1 {
		return errf(classIllegalArgument, "webhdfs parameter \"xattr.name\" is required, once")
	}
	if err := c.s.fs.RemoveXAttr(c.user, c.p, name); err != nil {
		return err
	}
	c.writeEmpty(http.StatusOK)
	return nil
}
