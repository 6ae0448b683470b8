package webhdfs

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/marvel-serverless/marvel/hdfsbridge/internal/namesys"
)

// Options configure a Server.
type Options struct {
	// DataURL is the base URL ("http://127.0.0.1:9870") the two-step ops
	// (OPEN, CREATE, APPEND, GETFILECHECKSUM) redirect to; "" means the
	// request's own Host (same port serves both steps).
	DataURL string
	Logger  *slog.Logger
	// MaxBodyBytes bounds a CREATE/APPEND body; 0 = no bound beyond the
	// file system. Bodies are streamed, never buffered whole.
	MaxBodyBytes int64
	// PeerUser, if set, names the one user the request's peer may act as
	// ("" when it may claim anyone), or refuses the peer with an error. A
	// bound peer's request without user.name is that user's; one whose
	// user.name or doas names another user, or a refused peer's, fails
	// with 403 AuthorizationException. nil believes every claim.
	PeerUser func(r *http.Request) (string, error)
}

// Server serves WebHDFS over a namespace.
type Server struct {
	fs      *namesys.FS
	dataURL string
	log     *slog.Logger
	maxBody int64
	peer    func(r *http.Request) (string, error)

	faults atomic.Int64 // mapping faults survived (a file truncated while read)
}

// New returns a Server of fs.
func New(fs *namesys.FS, opts Options) *Server {
	s := &Server{fs: fs, dataURL: strings.TrimRight(opts.DataURL, "/"), log: opts.Logger, maxBody: opts.MaxBodyBytes, peer: opts.PeerUser}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.dataURL != "" {
		if u, err := url.Parse(s.dataURL); err != nil || u.Scheme == "" || u.Host == "" {
			s.log.Warn("webhdfs: DataURL is not an absolute URL; redirects will not work", "data_url", s.dataURL)
		}
	}
	return s
}

// Prefix is the path under which WebHDFS is served.
const Prefix = "/webhdfs/v1"

// dataParam marks the second (DataNode) step of a two-step op in the URL the
// first step redirects to.
const dataParam = "data"

// call is one request being served.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	q    query
	op   string
	p    namesys.Path
	user namesys.User
	data bool // the data step of a two-step op
}

type opSpec struct {
	method string
	serve  func(*call) error
	// twoStep ops redirect (307) to their data step, which serves serve.
	twoStep bool
	// check, for a two-step op, validates the first step before the
	// redirect; nil checks nothing beyond the path and user.
	check func(*call) error
}

var ops map[string]opSpec

func init() {
	ops = map[string]opSpec{
		"GETFILESTATUS":     {method: http.MethodGet, serve: (*call).getFileStatus},
		"GETFILELINKSTATUS": {method: http.MethodGet, serve: (*call).getFileStatus},
		"LISTSTATUS":        {method: http.MethodGet, serve: (*call).listStatus},
		"LISTSTATUS_BATCH":  {method: http.MethodGet, serve: (*call).listStatusBatch},
		"GETCONTENTSUMMARY": {method: http.MethodGet, serve: (*call).getContentSummary},
		"GETQUOTAUSAGE":     {method: http.MethodGet, serve: (*call).getQuotaUsage},
		"GETHOMEDIRECTORY":  {method: http.MethodGet, serve: (*call).getHomeDirectory},
		"GETTRASHROOT":      {method: http.MethodGet, serve: (*call).getTrashRoot},
		"GETSTATUS":         {method: http.MethodGet, serve: (*call).getStatus},
		"GETACLSTATUS":      {method: http.MethodGet, serve: (*call).getACLStatus},
		"GETXATTRS":         {method: http.MethodGet, serve: (*call).getXAttrs},
		"LISTXATTRS":        {method: http.MethodGet, serve: (*call).listXAttrs},
		"OPEN":              {method: http.MethodGet, serve: (*call).open, twoStep: true, check: (*call).checkOpen},
		"GETFILECHECKSUM":   {method: http.MethodGet, serve: (*call).getFileChecksum, twoStep: true, check: (*call).checkReadable},

		"CREATE":         {method: http.MethodPut, serve: (*call).create, twoStep: true, check: (*call).checkCreate},
		"MKDIRS":         {method: http.MethodPut, serve: (*call).mkdirs},
		"RENAME":         {method: http.MethodPut, serve: (*call).rename},
		"SETPERMISSION":  {method: http.MethodPut, serve: (*call).setPermission},
		"SETOWNER":       {method: http.MethodPut, serve: (*call).setOwner},
		"SETTIMES":       {method: http.MethodPut, serve: (*call).setTimes},
		"SETREPLICATION": {method: http.MethodPut, serve: (*call).setReplication},
		"SETXATTR":       {method: http.MethodPut, serve: (*call).setXAttr},
		"REMOVEXATTR":    {method: http.MethodPut, serve: (*call).removeXAttr},

		"APPEND":   {method: http.MethodPost, serve: (*call).append, twoStep: true, check: (*call).checkAppend},
		"TRUNCATE": {method: http.MethodPost, serve: (*call).truncate},

		"DELETE": {method: http.MethodDelete, serve: (*call).delete},
	}
}

// unsupported are WebHDFS ops the bridge knows of and does not serve.
var unsupported = map[string]bool{
	"CONCAT": true, "CREATESYMLINK": true, "GETLINKTARGET": true,
	"GETDELEGATIONTOKEN": true, "RENEWDELEGATIONTOKEN": true, "CANCELDELEGATIONTOKEN": true,
	"MODIFYACLENTRIES": true, "REMOVEACLENTRIES": true, "REMOVEDEFAULTACL": true, "REMOVEACL": true, "SETACL": true,
	"CREATESNAPSHOT": true, "RENAMESNAPSHOT": true, "DELETESNAPSHOT": true, "ALLOWSNAPSHOT": true, "DISALLOWSNAPSHOT": true,
	"GETSNAPSHOTDIFF": true, "GETSNAPSHOTDIFFLISTING": true, "GETSNAPSHOTTABLEDIRECTORYLIST": true, "GETSNAPSHOTLIST": true,
	"SETSTORAGEPOLICY": true, "UNSETSTORAGEPOLICY": true, "GETSTORAGEPOLICY": true, "GETALLSTORAGEPOLICY": true,
	"SATISFYSTORAGEPOLICY": true, "SETQUOTA": true, "SETQUOTABYSTORAGETYPE": true, "CHECKACCESS": true,
	"GETSERVERDEFAULTS": true, "GETFILEBLOCKLOCATIONS": true, "GET_BLOCK_LOCATIONS": true, "GETTRASHROOTS": true,
	"SETECPOLICY": true, "GETECPOLICY": true, "UNSETECPOLICY": true, "ENABLEECPOLICY": true, "DISABLEECPOLICY": true,
	"GETECPOLICIES": true, "GETECCODECS": true, "UNSETSTORAGEPOLICIES": true,
}

// ServeHTTP serves /webhdfs/v1/<path>?op=....
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, spec, err := s.parse(w, r)
	if err != nil {
		s.fail(c, w, r, err)
		return
	}
	switch {
	case spec.twoStep && !c.data:
		if spec.check != nil {
			err = spec.check(c)
		}
		if err == nil {
			err = c.redirect()
		}
	default:
		err = spec.serve(c)
	}
	if err != nil {
		s.fail(c, w, r, err)
		return
	}
	s.log.Debug("webhdfs", "method", r.Method, "op", c.op, "path", c.p.String(), "user", c.user.Name, "data_step", c.data)
}

func (s *Server) fail(c *call, w http.ResponseWriter, r *http.Request, err error) {
	status := writeError(w, err)
	op, user := "", ""
	if c != nil {
		op, user = c.op, c.user.Name
	}
	lvl := slog.LevelDebug
	if status >= 500 {
		lvl = slog.LevelWarn
	}
	s.log.Log(r.Context(), lvl, "webhdfs request failed", "method", r.Method, "op", op, "url_path", r.URL.Path, "user", user, "status", status, "err", err)
}

// parse checks the request line and finds the op, the path and the user.
func (s *Server) parse(w http.ResponseWriter, r *http.Request) (*call, opSpec, error) {
	switch r.Method {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, PUT, POST, DELETE")
		return nil, opSpec{}, &methodError{r.Method}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return nil, opSpec{}, errf(namesys.ClassFileNotFound, "%s is not a WebHDFS resource: paths are served under %s/", quoteForMessage(r.URL.Path), Prefix)
	}
	if rest == "" {
		rest = "/"
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, opSpec{}, err
	}
	raw := q.get("op")
	if raw == "" {
		return nil, opSpec{}, errf(classIllegalArgument, "Invalid value for webhdfs parameter \"op\": the parameter is missing; give op=GETFILESTATUS, LISTSTATUS, OPEN, CREATE, ...")
	}
	name := asciiUpper(raw)
	spec, known := ops[name]
	switch {
	case !known && unsupported[name]:
		return nil, opSpec{}, errf(namesys.ClassUnsupported, "op=%s is not supported by the Marvel HDFS bridge", name)
	case !known:
		return nil, opSpec{}, errf(classIllegalArgument, "Invalid value for webhdfs parameter \"op\": %s is not a WebHDFS operation", quoteForMessage(raw))
	case spec.method != r.Method:
		return nil, opSpec{}, errf(classIllegalArgument, "Invalid value for webhdfs parameter \"op\": %s is not a %s operation (send it with %s)", name, r.Method, spec.method)
	}
	c := &call{s: s, w: w, r: r, q: q, op: name}
	if c.p, err = namesys.ParsePath(rest); err != nil {
		return c, opSpec{}, err
	}
	bound := ""
	if s.peer != nil {
		if bound, err = s.peer(r); err != nil {
			return c, opSpec{}, errf(classAuthorization, "%s", err.Error())
		}
	}
	uname, err := q.userAs(bound)
	if err != nil {
		return c, opSpec{}, err
	}
	c.user = s.fs.UserOf(uname)
	if spec.twoStep {
		if c.data, err = q.boolean(dataParam, false); err != nil {
			return c, opSpec{}, err
		}
	}
	if _, err := q.boolean("noredirect", false); err != nil {
		return c, opSpec{}, err
	}
	if _, err := q.integer("buffersize", 0, 1, math32); err != nil {
		return c, opSpec{}, err
	}
	return c, spec, nil
}

const math32 = 1<<31 - 1

type methodError struct{ method string }

func (e *methodError) Error() string {
	return "HTTP method " + e.method + " is not served: WebHDFS uses GET, PUT, POST and DELETE"
}

// escapedPath is p under Prefix, escaped for a URL.
func escapedPath(p namesys.Path) string {
	s := Prefix + p.String()
	if p.IsRoot() {
		s = Prefix + "/"
	}
	return (&url.URL{Path: s}).EscapedPath()
}

// host is the request's own host[:port], for redirects to the same server.
func (c *call) host() string {
	if c.r.Host != "" {
		return c.r.Host
	}
	if a, ok := c.r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return "localhost"
}

// dataLocation is the URL of the data step of this two-step op.
func (c *call) dataLocation() string {
	base := c.s.dataURL
	if base == "" {
		scheme := "http"
		if c.r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + c.host()
	}
	v := url.Values{}
	for k, vs := range c.q {
		if k == "noredirect" || k == dataParam {
			continue
		}
		v[k] = vs
	}
	v.Set("op", c.op)
	v.Set(dataParam, "true")
	return base + escapedPath(c.p) + "?" + v.Encode()
}

// redirect answers the first step of a two-step op: 307 to the data step,
// or with noredirect=true, 200 and the URL in JSON.
func (c *call) redirect() error {
	loc := c.dataLocation()
	if nr, _ := c.q.boolean("noredirect", false); nr {
		return c.writeJSON(http.StatusOK, map[string]string{"Location": loc})
	}
	h := c.w.Header()
	h.Set("Location", loc)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusTemporaryRedirect)
	return nil
}

// writeJSON answers with v as JSON.
func (c *call) writeJSON(status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return errf(classRuntime, "encoding the reply: %v", err)
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	c.w.Write(body)
	return nil
}

// writeEmpty answers status with no body, as Hadoop answers SETPERMISSION
// and the other ops without a result.
func (c *call) writeEmpty(status int) {
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", "0")
	c.w.WriteHeader(status)
}
