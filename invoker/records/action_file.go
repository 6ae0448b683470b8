package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
	"github.com/marvel-serverless/marvel/invoker/records/internal/vfs"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// File name extensions under actions/<namespace>/.
const (
	actionExt = ".action"
	tempExt   = ".tmp"
)

// chunk is the unit in which code is written and read.
const chunk = 1 << 20

// actionFileMeta is the meta JSON of an action file: the key the action is
// kept under and the action without its code.
type actionFileMeta struct {
	Namespace string       `json:"namespace"`
	Name      string       `json:"name"`
	Action    whisk.Action `json:"action"`
}

// actionMeta is an action in memory: everything but the code.
type actionMeta struct {
	a       whisk.Action // Exec.Code nil
	hasCode bool
	path    string
}

func (s *Store) actionPath(ns, name string) string {
	return filepath.Join(s.actDir, escapeName(ns), escapeName(name)+actionExt)
}

// nsDir returns the directory of namespace ns, creating it durably.
func (s *Store) nsDir(ns string) (string, error) {
	esc := escapeName(ns)
	d := filepath.Join(s.actDir, esc)
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if s.nsDirs[esc] {
		return d, nil
	}
	if err := mkdirAll(s.fs, d); err != nil {
		return "", ioError(fmt.Sprintf("create the directory of namespace %q", ns), err)
	}
	s.nsDirs[esc] = true
	return d, nil
}

// writeActionFile writes a durably at path: a temp file written and synced,
// renamed over path, and the directory synced. If only that last sync
// fails, it returns the new metadata with the error: the new file is in
// place.
func (s *Store) writeActionFile(ns, name, path string, a *whisk.Action) (*actionMeta, error) {
	meta := cloneAction(*a)
	var code string
	hasCode := a.Exec != nil && a.Exec.Code != nil
	if hasCode {
		code = *a.Exec.Code
		meta.Exec.Code = nil
	}
	if uint64(len(code)) > format.MaxCode {
		return nil, fmt.Errorf("%w: action %s/%s: code of %d bytes above the limit %d", ErrInvalid, ns, name, len(code), uint64(format.MaxCode))
	}
	mb, err := json.Marshal(actionFileMeta{Namespace: ns, Name: name, Action: meta})
	if err != nil {
		return nil, fmt.Errorf("%w: action %s/%s: %w", ErrInvalid, ns, name, err)
	}
	if len(mb) > format.MaxPayload {
		return nil, fmt.Errorf("%w: action %s/%s: %d bytes of metadata above the limit %d", ErrInvalid, ns, name, len(mb), format.MaxPayload)
	}
	tmp := path + tempExt
	f, err := s.fs.Create(tmp)
	if err != nil {
		return nil, ioError(fmt.Sprintf("write action %s/%s", ns, name), err)
	}
	err = writeAction(f, mb, code, hasCode)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.Rename(tmp, path)
	}
	if err != nil {
		if rerr := s.fs.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			s.log.Warn("temp file removal failed", "path", tmp, "err", rerr)
		}
		return nil, ioError(fmt.Sprintf("write action %s/%s", ns, name), err)
	}
	m := &actionMeta{a: meta, hasCode: hasCode, path: path}
	if err := s.fs.SyncDir(filepath.Dir(path)); err != nil {
		// The new file is in place, durable or not: the caller keeps it.
		return m, ioError(fmt.Sprintf("write action %s/%s", ns, name), err)
	}
	return m, nil
}

// writeAction writes an action file's contents, the header last (it holds
// the checksums), and syncs it.
func writeAction(f vfs.File, meta []byte, code string, hasCode bool) error {
	h := format.ActionHeader{
		HasCode:    hasCode,
		MetaLength: uint32(len(meta)),
		CodeLength: uint64(len(code)),
		MetaCRC:    format.Checksum(meta),
	}
	if _, err := f.WriteAt(meta, format.ActionHeaderSize); err != nil {
		return err
	}
	buf := make([]byte, min(chunk, len(code)))
	off := int64(format.ActionHeaderSize + len(meta))
	for i := 0; i < len(code); {
		n := copy(buf, code[i:])
		h.CodeCRC = format.UpdateChecksum(h.CodeCRC, buf[:n])
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		i += n
		off += int64(n)
	}
	if _, err := f.WriteAt(h.Encode(), 0); err != nil {
		return err
	}
	return f.Sync()
}

// readActionFile reads and checks an action file; with code false it reads
// only the header and the meta.
func readActionFile(fsys vfs.FS, path string, withCode bool) (actionFileMeta, bool, error) {
	var m actionFileMeta
	f, err := fsys.Open(path)
	if err != nil {
		return m, false, err
	}
	defer f.Close()
	corrupt := func(off int64, format string, args ...any) error {
		return &CorruptError{Path: path, Offset: off, What: "action file", Reason: fmt.Sprintf(format, args...)}
	}
	size, err := f.Size()
	if err != nil {
		return m, false, err
	}
	hb := make([]byte, format.ActionHeaderSize)
	if n, err := f.ReadAt(hb, 0); n < len(hb) {
		if err != io.EOF {
			return m, false, err
		}
		return m, false, corrupt(0, "file of %d bytes, shorter than its header", size)
	}
	h, err := format.DecodeActionHeader(hb)
	if err != nil {
		return m, false, corrupt(0, "%v", err)
	}
	if h.Size() != size {
		return m, false, corrupt(0, "file of %d bytes, its header says %d", size, h.Size())
	}
	mb := make([]byte, h.MetaLength)
	if n, err := f.ReadAt(mb, format.ActionHeaderSize); n < len(mb) {
		return m, false, err
	}
	if got := format.Checksum(mb); got != h.MetaCRC {
		return m, false, corrupt(format.ActionHeaderSize, "metadata checksum mismatch (stored %#08x, computed %#08x)", h.MetaCRC, got)
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		return m, false, corrupt(format.ActionHeaderSize, "metadata: %v", err)
	}
	if m.Action.Exec == nil && h.HasCode {
		return m, false, corrupt(format.ActionHeaderSize, "action with code but no exec")
	}
	if !withCode || !h.HasCode {
		return m, h.HasCode, nil
	}
	off := int64(format.ActionHeaderSize) + int64(h.MetaLength)
	var b strings.Builder
	b.Grow(int(h.CodeLength))
	buf := make([]byte, min(chunk, int(h.CodeLength)))
	var crc uint32
	for left := int64(h.CodeLength); left > 0; {
		p := buf[:min(int64(len(buf)), left)]
		if n, err := f.ReadAt(p, off); n < len(p) {
			return m, false, err
		}
		crc = format.UpdateChecksum(crc, p)
		b.Write(p)
		off += int64(len(p))
		left -= int64(len(p))
	}
	if crc != h.CodeCRC {
		return m, false, corrupt(format.ActionHeaderSize+int64(h.MetaLength), "code checksum mismatch (stored %#08x, computed %#08x)", h.CodeCRC, crc)
	}
	code := b.String()
	m.Action.Exec.Code = &code
	return m, true, nil
}

// scanActions reads the metadata of every action file, changing nothing,
// and lists the temp files of interrupted writes.
func (s *Store) scanActions() (map[string]map[string]*actionMeta, []string, error) {
	out := map[string]map[string]*actionMeta{}
	var temps []string
	nss, err := s.fs.ReadDir(s.actDir)
	if err != nil {
		return nil, nil, ioError("list actions", err)
	}
	for _, d := range nss {
		dir := filepath.Join(s.actDir, d.Name)
		if !d.IsDir {
			s.log.Warn("unexpected file among action namespaces, ignored", "path", dir)
			continue
		}
		files, err := s.fs.ReadDir(dir)
		if err != nil {
			return nil, nil, ioError("list actions", err)
		}
		for _, fe := range files {
			p := filepath.Join(dir, fe.Name)
			switch {
			case !fe.IsDir && strings.HasSuffix(fe.Name, actionExt+tempExt):
				temps = append(temps, p)
				continue
			case fe.IsDir || !strings.HasSuffix(fe.Name, actionExt):
				s.log.Warn("unexpected file among actions, ignored", "path", p)
				continue
			}
			m, hasCode, err := readActionFile(s.fs, p, false)
			if err != nil {
				return nil, nil, readError("read action file", err)
			}
			if err := checkName("namespace", m.Namespace); err != nil {
				return nil, nil, &CorruptError{Path: p, What: "action file", Reason: err.Error()}
			}
			if err := checkName("action name", m.Name); err != nil {
				return nil, nil, &CorruptError{Path: p, What: "action file", Reason: err.Error()}
			}
			if want := s.actionPath(m.Namespace, m.Name); want != p {
				return nil, nil, &CorruptError{Path: p, What: "action file",
					Reason: fmt.Sprintf("it holds action %s/%s, whose file is %s", m.Namespace, m.Name, want)}
			}
			if out[m.Namespace] == nil {
				out[m.Namespace] = map[string]*actionMeta{}
			}
			out[m.Namespace][m.Name] = &actionMeta{a: m.Action, hasCode: hasCode, path: p}
		}
	}
	return out, temps, nil
}
