package proxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/runtime/actionloop"
	"github.com/marvel-serverless/marvel/runtime/archive"
	"github.com/marvel-serverless/marvel/runtime/gobuild"
)

// initValue is the "value" of an /init request.
type initValue struct {
	Name   string                     `json:"name"`
	Main   string                     `json:"main"`
	Code   string                     `json:"code"`
	Binary *bool                      `json:"binary"`
	Env    map[string]json.RawMessage `json:"env"`
}

// Exact texts of the OpenWhisk Go proxy, which harnesses compare.
const (
	msgInitTwice = "Cannot initialize the action more than once."
	msgNoCode    = "Missing main/no code to execute."
)

func (s *Server) handleInit(w http.ResponseWriter, r *http.Request) {
	if s.closed.Load() {
		writeError(w, http.StatusServiceUnavailable, errClosed.Error())
		return
	}
	body, err := readBody(r, s.opts.MaxInitBytes)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "Error reading request: "+err.Error())
		return
	}
	var req struct {
		Value *initValue `json:"value"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Error unmarshaling request: "+err.Error())
		return
	}
	if s.initialized.Load() || !s.initMu.TryLock() {
		s.refuseInit(w)
		return
	}
	defer s.initMu.Unlock()
	if s.initialized.Load() {
		s.refuseInit(w)
		return
	}
	v := req.Value
	if v == nil {
		v = &initValue{}
	}
	if v.Code == "" && s.opts.Builtin == "" {
		writeError(w, http.StatusForbidden, msgNoCode)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.InitTimeout)
	defer cancel()
	defer context.AfterFunc(s.stop, cancel)()
	s.initing.Store(true)
	status, msg := s.init(ctx, v)
	s.initing.Store(false)
	if status != http.StatusOK {
		fmt.Fprintf(s.opts.Stderr, "init failed: %s\n", msg)
		writeError(w, status, msg)
		return
	}
	s.initialized.Store(true)
	writeJSON(w, http.StatusOK, []byte("{\"ok\":true}\n"))
}

// refuseInit answers a second /init: 403, the reason in the logs, and no
// sentinels.
func (s *Server) refuseInit(w http.ResponseWriter) {
	fmt.Fprintln(s.opts.Stderr, msgInitTwice)
	writeError(w, http.StatusForbidden, msgInitTwice)
}

// init prepares and starts the action; it returns the HTTP status and, on
// failure, the error message. initMu is held.
func (s *Server) init(ctx context.Context, v *initValue) (int, string) {
	dir, err := os.MkdirTemp(s.opts.WorkDir, "action-")
	if err == nil && s.opts.Isolate {
		err = os.Chmod(dir, 0o755) // the action runs as another user
	}
	if err != nil {
		return http.StatusInternalServerError, "cannot prepare the action directory: " + err.Error()
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	t0 := time.Now()
	exe, status, msg := s.prepare(ctx, v, dir)
	if status != http.StatusOK {
		return status, msg
	}
	tPrepared := time.Now()

	env, ident := s.actionEnv(v.Env)
	spec := actionloop.Spec{
		Path:     exe,
		Dir:      workDir(exe, dir),
		Env:      env,
		Stdout:   s.opts.Stdout,
		Stderr:   s.opts.Stderr,
		WaitAck:  s.opts.WaitAck,
		MaxReply: int(s.opts.MaxResultBytes),
		Logger:   s.log,
	}
	if s.opts.Isolate {
		spec.Credential = credential(nobody) // until bound to a namespace
	}
	s.runSem <- struct{}{}
	defer func() { <-s.runSem }()
	if ident != nil && s.opts.Data != "" {
		if err := s.bindLocked(ctx, *ident, &spec); err != nil {
			return http.StatusBadGateway, "Cannot start action: " + err.Error()
		}
	}
	tBound := time.Now()
	p, err := actionloop.Start(ctx, spec)
	if err != nil {
		s.releaseRegionLocked()
		return http.StatusBadGateway, startError(err)
	}
	s.spec = spec
	s.setProcLocked(p)
	ok = true
	s.log.Info("action initialized", "prepare", tPrepared.Sub(t0), "region", tBound.Sub(tPrepared),
		"start", time.Since(tBound), "pid", p.Pid())
	return http.StatusOK, ""
}

// prepare unpacks (and if need be builds) the action into dir and returns
// its executable.
func (s *Server) prepare(ctx context.Context, v *initValue, dir string) (string, int, string) {
	if v.Code == "" {
		exe := s.opts.Builtin
		if fi, err := os.Stat(exe); err == nil && fi.IsDir() {
			exe = filepath.Join(exe, "exec")
		}
		if _, err := os.Stat(exe); err != nil {
			return "", http.StatusBadGateway, "Cannot start action: the built-in function is missing: " + err.Error()
		}
		return exe, http.StatusOK, ""
	}
	binary := isBinary(v)
	var cacheKey string
	if s.cache != nil {
		cacheKey = s.cache.key(v, binary, s.opts.Build.Go, s.opts.Build.SDKDir)
		if exe, ok := s.cache.lookup(cacheKey); ok {
			s.log.Info("action found in the cache", "key", cacheKey)
			return exe, http.StatusOK, ""
		}
	}
	keep := func(exe string) {
		if s.cache == nil {
			return
		}
		if err := s.cache.store(cacheKey, exe); err != nil {
			s.log.Warn("action not cached", "err", err)
		}
	}
	payload := []byte(v.Code)
	if binary {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v.Code))
		if err != nil {
			return "", http.StatusBadRequest, "cannot decode the request: " + err.Error()
		}
		payload = b
	}
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return "", http.StatusInternalServerError, "cannot prepare the action directory: " + err.Error()
	}
	kind, err := archive.Unpack(payload, src, s.opts.Archive)
	if err != nil {
		status := http.StatusBadRequest
		if !isArchiveRefusal(err) {
			status = http.StatusInternalServerError
		}
		return "", status, "cannot unpack the action: " + err.Error()
	}
	exe := filepath.Join(src, "exec")
	switch kind {
	case archive.KindExecutable:
		keep(exe)
		return exe, http.StatusOK, ""
	case archive.KindZip, archive.KindTarGz:
		if ok, _ := archive.IsExecutable(exe); ok {
			if onlyExec(src) {
				keep(exe)
			}
			return exe, http.StatusOK, ""
		}
		if !hasGoSource(src) {
			return "", http.StatusBadGateway, "The action failed to generate or locate a binary: the archive has no executable `exec` (ELF or #! script) at its root and no Go source to build."
		}
	}
	out := filepath.Join(dir, "bin", "exec")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", http.StatusInternalServerError, "cannot prepare the action directory: " + err.Error()
	}
	if err := gobuild.Build(ctx, src, v.Main, out, s.opts.Build); err != nil {
		var be *gobuild.Error
		if errors.As(err, &be) {
			fmt.Fprintf(s.opts.Stderr, "%s\n", be.Error())
			return "", http.StatusBadGateway, "The action failed to build: " + abbreviate(be.Error(), 8<<10)
		}
		return "", http.StatusBadGateway, "The action failed to build: " + err.Error()
	}
	keep(out)
	return out, http.StatusOK, ""
}

// isBinary tells whether code is base64: as the request says, or, when it
// does not say, as the platform decides (non-empty, a multiple of 4 long,
// valid base64).
func isBinary(v *initValue) bool {
	if v.Binary != nil {
		return *v.Binary
	}
	t := strings.TrimSpace(v.Code)
	if t == "" || len(t)%4 != 0 {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(t)
	return err == nil
}

func isArchiveRefusal(err error) bool {
	for _, e := range []error{archive.ErrInvalid, archive.ErrUnsafePath, archive.ErrLinkEntry, archive.ErrUnsupportedEntry,
		archive.ErrDuplicateEntry, archive.ErrTooLarge, archive.ErrTooManyFiles, archive.ErrCorrupt} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func hasGoSource(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return len(m) > 0 || err == nil
}

// reserved are environment variables the runtime sets for the action; an
// init env cannot override them (they would point the action at another
// region).
func reserved(k string) bool {
	return strings.HasPrefix(k, "MARVEL_") || k == "__OW_WAIT_FOR_ACK"
}

// actionEnv builds the action's environment from the runtime's base env and
// the init env, and returns the identity the init env names (nil if it
// names none).
func (s *Server) actionEnv(initEnv map[string]json.RawMessage) ([]string, *Identity) {
	env := slices.Clone(s.opts.Env)
	keys := make([]string, 0, len(initEnv))
	for k := range initEnv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals := map[string]string{}
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			s.log.Warn("init env variable with an invalid name dropped", "name", k)
			continue
		}
		if reserved(k) {
			s.log.Warn("init env variable reserved by the runtime dropped", "name", k)
			continue
		}
		val := envText(initEnv[k])
		if strings.ContainsRune(val, 0) {
			s.log.Warn("init env variable with a NUL byte dropped", "name", k)
			continue
		}
		vals[k] = val
		env = append(env, k+"="+val)
	}
	if s.opts.WaitAck {
		env = append(env, "__OW_WAIT_FOR_ACK=true")
	}
	if s.opts.CacheBytes > 0 {
		env = append(env, "MARVEL_CACHE_BYTES="+strconv.FormatInt(s.opts.CacheBytes, 10))
	}
	ns, action := vals["__OW_NAMESPACE"], vals["__OW_ACTION_NAME"]
	if ns == "" || action == "" {
		return env, nil
	}
	id, err := NewIdentity(ns, action)
	if err != nil {
		s.log.Warn("init env names no valid action; state is bound at the first run", "err", err)
		return env, nil
	}
	return env, &id
}

// envText renders an init env value as OpenWhisk does: strings as they are,
// null as "", anything else as compact JSON.
func envText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" || t == "" {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return t
}

// bindLocked binds the region of id and adds it to spec. runSem is held.
func (s *Server) bindLocked(ctx context.Context, id Identity, spec *actionloop.Spec) error {
	reg, err := bindRegion(ctx, &s.opts, id)
	if err != nil {
		return err
	}
	if s.opts.Isolate {
		cred, err := isolateNamespace(&s.opts, id)
		if err != nil {
			reg.close()
			return fmt.Errorf("isolate namespace %s: %w", id.Namespace, err)
		}
		spec.Credential = cred
	}
	s.releaseRegionLocked()
	s.region = reg
	// Region variables are only ever added here, once per action: the init
	// env cannot carry them (actionEnv drops reserved names).
	env := slices.Clone(spec.Env)
	if reg.file != nil {
		s.regionName.Store(&reg.name)
		spec.ExtraFiles = []*os.File{reg.file}
		env = append(env,
			"MARVEL_REGION_FD=4",
			"MARVEL_REGION="+reg.name,
			"MARVEL_REGION_BYTES="+strconv.FormatInt(reg.size, 10),
			"MARVEL_REGION_MAX="+strconv.FormatInt(s.opts.RegionMax, 10),
		)
	}
	spec.Env = append(env,
		"MARVEL_PMEM_MODE="+s.opts.Mode.String(),
		"MARVEL_FILES_DIR="+reg.files,
	)
	if reg.file == nil {
		s.log.Info("namespace files bound, no state region", "action", id.Action, "namespace", id.Namespace)
		return nil
	}
	s.log.Info("state region bound", "region", reg.name, "action", id.Action, "namespace", id.Namespace)
	return nil
}

// releaseRegionLocked closes the bound region's file. runSem is held.
func (s *Server) releaseRegionLocked() {
	if s.region != nil {
		s.region.close()
		s.region = nil
		s.regionName.Store(nil)
	}
}

// startError renders a failure to start the action process.
func startError(err error) string {
	switch {
	case errors.Is(err, actionloop.ErrExitedAtStart):
		return "Cannot start action: Command exited abruptly during initialization (" + strings.TrimPrefix(err.Error(), actionloop.ErrExitedAtStart.Error()+": ") + "). Check logs for details."
	case errors.Is(err, actionloop.ErrBadAck):
		return "Cannot start action: The action did not initialize properly: " + strings.TrimPrefix(err.Error(), actionloop.ErrBadAck.Error()+": ")
	}
	return "Cannot start action: " + err.Error() + ". Check logs for details."
}

func abbreviate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// workDir is where the action runs: beside its executable, or in its own
// action directory when the executable came from the cache or is built in.
func workDir(exe, actionDir string) string {
	if rel, err := filepath.Rel(actionDir, exe); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Dir(exe)
	}
	return actionDir
}
