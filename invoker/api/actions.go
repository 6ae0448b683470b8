package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// Kinds are the exec kinds actions may have. Go kinds take Go source, or a
// base64 zip or executable compiled beforehand; "blackbox" and "native"
// (wsk --docker, --native) take a base64 zip holding exec, or an
// executable or #! script. Marvel runs the code itself: a blackbox image
// is recorded, not pulled.
var kinds = []string{"go:default", "go:1.26", "marvel:default", "marvel:1", "blackbox", "native"}

func knownKind(k string) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// errBadRequest is a request the caller must fix (400).
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

func badRequest(format string, a ...any) error { return errBadRequest{fmt.Sprintf(format, a...)} }

// errConflict is a create of an action that exists (409).
var errConflict = errors.New(msgExists)

// readBody reads at most limit bytes of the request body. A body declared
// longer than limit is refused from its header, unread.
func readBody(c *gin.Context, limit int64) ([]byte, bool) {
	if c.Request.ContentLength > limit {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	if err != nil {
		return nil, false
	}
	return b, int64(len(b)) <= limit
}

func (s *Server) putAction(c *gin.Context) {
	ns, name := nsOf(c), c.Param("name")
	if err := whisk.ValidName(name); err != nil {
		s.fail(c, http.StatusBadRequest, "The action name is not valid: "+err.Error())
		return
	}
	if name == "." || name == ".." { // valid entity names, but no runtime takes them (proxy.NewIdentity)
		s.fail(c, http.StatusBadRequest, "The action name is not valid: name \""+name+"\" is a path component")
		return
	}
	body, ok := readBody(c, MaxActionBytes)
	if !ok {
		s.fail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s (the action exceeds %d bytes).", msgTooLarge, MaxActionBytes))
		return
	}
	var req whisk.Action
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			s.fail(c, http.StatusBadRequest, "The request content was malformed:\n"+err.Error())
			return
		}
	}
	overwrite := c.Query("overwrite") == "true"
	now := time.Now().UnixMilli()
	out, err := s.rec.UpdateAction(ns, name, func(cur *whisk.Action) (*whisk.Action, error) {
		if cur != nil && !overwrite {
			return nil, errConflict
		}
		return merge(ns, name, cur, &req, now)
	})
	var br errBadRequest
	switch {
	case errors.As(err, &br):
		code := http.StatusBadRequest
		if strings.HasPrefix(br.msg, msgTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		s.fail(c, code, br.msg)
		return
	case errors.Is(err, errConflict):
		s.fail(c, http.StatusConflict, msgExists)
		return
	case err != nil:
		s.storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// merge builds the action that a PUT of req makes of cur (nil: create).
func merge(ns, name string, cur, req *whisk.Action, now int64) (*whisk.Action, error) {
	var a whisk.Action
	if cur != nil {
		a = *cur
		a.Version = bump(cur.Version)
	} else {
		a = whisk.Action{Version: "0.0.1", Annotations: whisk.KeyValues{}, Parameters: whisk.KeyValues{}}
		if req.Exec == nil {
			return nil, badRequest("The request content was malformed:\nexec undefined: an action needs an exec with its kind and code")
		}
	}
	a.Namespace, a.Name, a.Updated, a.DelAnnotations = ns, name, now, nil
	if req.Exec != nil {
		e, err := checkExec(req.Exec)
		if err != nil {
			return nil, err
		}
		a.Exec = e
	}
	lim := invoker.DefaultLimits()
	if cur != nil {
		lim = invoker.LimitsOf(cur)
	}
	lim, err := lim.Apply(req.Limits)
	if err != nil {
		return nil, badRequest("The request content was malformed:\n%v", err)
	}
	a.Limits = lim.Whisk()
	if req.Parameters != nil {
		if b, _ := json.Marshal(req.Parameters); len(b) > MaxParamsBytes {
			return nil, badRequest("%s (the parameters exceed %d bytes).", msgTooLarge, MaxParamsBytes)
		}
		a.Parameters = req.Parameters
	}
	for _, kv := range req.Annotations {
		a.Annotations = a.Annotations.Set(kv.Key, kv.Value)
	}
	a.Annotations = a.Annotations.Without(req.DelAnnotations...)
	a.Annotations = a.Annotations.Set("exec", a.Exec.Kind)
	if cur == nil && a.Annotations.Get("provide-api-key") == nil {
		a.Annotations = a.Annotations.Set("provide-api-key", false)
	}
	if b, _ := json.Marshal(a.Annotations); len(b) > MaxParamsBytes {
		return nil, badRequest("%s (the annotations exceed %d bytes).", msgTooLarge, MaxParamsBytes)
	}
	return &a, nil
}

// checkExec validates an exec and computes its binary flag.
func checkExec(e *whisk.Exec) (*whisk.Exec, error) {
	out := *e
	if !knownKind(e.Kind) {
		return nil, badRequest("The request content was malformed:\nkind '%s' is not supported; use one of %s", e.Kind, strings.Join(kinds, ", "))
	}
	if e.Code == nil || strings.TrimSpace(*e.Code) == "" {
		return nil, badRequest("The request content was malformed:\nexec of kind %s has no code; Marvel runs the code it is given (a blackbox image is not pulled): give the executable, script or zip", e.Kind)
	}
	if len(*e.Code) > MaxCodeBytes {
		return nil, badRequest("%s (the code exceeds %d bytes).", msgTooLarge, MaxCodeBytes)
	}
	if e.Kind == "native" {
		out.Kind = "blackbox"
		if out.Image == "" {
			out.Image = "openwhisk/dockerskeleton"
		}
	}
	bin := isBinary(*e.Code)
	out.Binary = &bin
	return &out, nil
}

// isBinary is OpenWhisk's rule: the trimmed code is non-empty base64 whose
// length is a multiple of 4.
func isBinary(code string) bool {
	t := strings.TrimSpace(code)
	if t == "" || len(t)%4 != 0 {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(t)
	return err == nil
}

// bump increments the patch of a semantic version.
func bump(v string) string {
	p := strings.Split(v, ".")
	if len(p) != 3 {
		return "0.0.1"
	}
	n, err := strconv.Atoi(p[2])
	if err != nil {
		return "0.0.1"
	}
	return p[0] + "." + p[1] + "." + strconv.Itoa(n+1)
}

func (s *Server) getAction(c *gin.Context) {
	code := c.DefaultQuery("code", "true") != "false"
	a, err := s.rec.GetAction(nsOf(c), c.Param("name"), code)
	if err != nil {
		s.storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func (s *Server) deleteAction(c *gin.Context) {
	ns, name := nsOf(c), c.Param("name")
	a, err := s.rec.DeleteAction(ns, name)
	if err != nil {
		s.storeError(c, err)
		return
	}
	if err := s.v.DeleteState(ns, name); err != nil {
		s.lg.Error("deleting an action's state", "action", ns+"/"+name, "err", err)
	}
	c.JSON(http.StatusOK, a)
}

func (s *Server) listActions(c *gin.Context) {
	limit, skip, ok := s.paging(c)
	if !ok {
		return
	}
	list, err := s.rec.ListActions(nsOf(c), skip, limit)
	if err != nil {
		s.storeError(c, err)
		return
	}
	// As OpenWhisk lists them: no code and no parameters (which may hold
	// secrets).
	out := make([]listedAction, len(list))
	for i, a := range list {
		out[i] = listedAction{Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
			Annotations: a.Annotations, Limits: a.Limits, Updated: a.Updated}
		if a.Exec != nil {
			out[i].Exec = &listedExec{Kind: a.Exec.Kind, Binary: a.Exec.Binary != nil && *a.Exec.Binary}
		}
	}
	c.JSON(http.StatusOK, out)
}

// listedAction is an action in a list.
type listedAction struct {
	Namespace   string          `json:"namespace"`
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	Publish     bool            `json:"publish"`
	Annotations whisk.KeyValues `json:"annotations"`
	Limits      *whisk.Limits   `json:"limits,omitempty"`
	Exec        *listedExec     `json:"exec,omitempty"`
	Updated     int64           `json:"updated"`
}

type listedExec struct {
	Kind   string `json:"kind"`
	Binary bool   `json:"binary"`
}

// paging reads limit (default 30, at most 200) and skip.
func (s *Server) paging(c *gin.Context) (limit, skip int, ok bool) {
	limit, skip = 30, 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 200 {
			s.fail(c, http.StatusBadRequest, fmt.Sprintf("The value '%s' is not in the range of 0 to 200 for parameter limit.", v))
			return 0, 0, false
		}
		limit = n
		if n == 0 {
			limit = 200
		}
	}
	if v := c.Query("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.fail(c, http.StatusBadRequest, fmt.Sprintf("The value '%s' is not a non-negative integer for parameter skip.", v))
			return 0, 0, false
		}
		skip = n
	}
	return limit, skip, true
}
