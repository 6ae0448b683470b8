// Package api serves the OpenWhisk controller REST API subset in front of
// an invoker: /api/v1 info, namespaces, actions (create, update, get, list,
// delete, invoke) and activations (list, get, logs, result), with HTTP
// Basic auth by uuid:key, error bodies {"error","code"} and OpenWhisk's
// status codes. Prometheus metrics are at /metrics.
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/records"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// Bounds of request bodies.
const (
	MaxActionBytes  = 50 << 20 // an action PUT: code up to 48 MB and the rest
	MaxCodeBytes    = 48 << 20
	MaxParamsBytes  = 1 << 20 // invoke parameters, and an action's parameters
	MaxBlockingWait = 60 * time.Second
)

// Options configure the API.
type Options struct {
	Invoker *invoker.Invoker // required
	Keys    *Keys            // nil: the guest key alone
	// Gatherer serves /metrics; nil: no /metrics.
	Gatherer prometheus.Gatherer
	// Build is reported by GET /api/v1.
	Build  string
	Logger *slog.Logger
}

// Server is the API.
type Server struct {
	o   Options
	v   *invoker.Invoker
	rec *records.Store
	lg  *slog.Logger
	eng *gin.Engine
}

// New returns the API over o.Invoker.
func New(o Options) *Server {
	if o.Keys == nil {
		o.Keys = NewKeys()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{o: o, v: o.Invoker, rec: o.Invoker.Records(), lg: o.Logger}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.Use(s.transaction, gin.CustomRecovery(func(c *gin.Context, err any) {
		s.lg.Error("API handler panicked", "path", c.Request.URL.Path, "panic", err)
		s.fail(c, http.StatusInternalServerError, "An internal error occurred.")
	}))
	e.NoRoute(func(c *gin.Context) { s.fail(c, http.StatusNotFound, msgNotFound) })
	e.NoMethod(func(c *gin.Context) {
		s.fail(c, http.StatusMethodNotAllowed, "The requested method is not allowed for this resource.")
	})

	e.GET("/api/v1", s.info)
	e.GET("/api/v1/", s.info)
	if o.Gatherer != nil {
		h := promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})
		e.GET("/metrics", gin.WrapH(h))
	}
	g := e.Group("/api/v1", s.auth)
	g.GET("/namespaces", s.namespaces)
	n := g.Group("/namespaces/:ns", s.namespace)
	n.GET("/actions", s.listActions)
	n.PUT("/actions/:name", s.putAction)
	n.GET("/actions/:name", s.getAction)
	n.DELETE("/actions/:name", s.deleteAction)
	n.POST("/actions/:name", s.invoke)
	n.GET("/activations", s.listActivations)
	n.GET("/activations/:id", s.getActivation)
	n.GET("/activations/:id/logs", s.activationLogs)
	n.GET("/activations/:id/result", s.activationResult)
	n.PUT("/regions/:job", s.putRegion)
	n.DELETE("/regions/:job", s.deleteRegion)
	n.GET("/regions", s.listRegions)
	s.eng = e
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eng.ServeHTTP(w, r) }

const (
	msgNotFound      = "The requested resource does not exist."
	msgExists        = "resource already exists"
	msgBadAuth       = "The supplied authentication is invalid"
	msgTooLarge      = "The request content was too large"
	keyTID           = "tid"
	keySubject       = "subject"
	keyNamespace     = "namespace"
	headerActivation = "x-openwhisk-activation-id"
)

// transaction gives each request a transaction id (the "code" of errors)
// and logs it.
func (s *Server) transaction(c *gin.Context) {
	tid := invoker.NewTransactionID()
	c.Set(keyTID, tid)
	c.Header("X-Request-ID", tid)
	t := time.Now()
	c.Next()
	s.lg.Debug("request", "method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(),
		"ms", time.Since(t).Milliseconds(), "tid", tid)
}

func tidOf(c *gin.Context) string { return c.GetString(keyTID) }

// fail answers with OpenWhisk's error body.
func (s *Server) fail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, whisk.Error{Error: msg, Code: tidOf(c)})
}

// auth checks HTTP Basic credentials.
func (s *Server) auth(c *gin.Context) {
	uuid, key, ok := c.Request.BasicAuth()
	subj, good := s.o.Keys.Check(uuid, key)
	if !ok || !good {
		c.Header("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
		s.fail(c, http.StatusUnauthorized, msgBadAuth)
		return
	}
	c.Set(keySubject, subj)
}

func subjectOf(c *gin.Context) Subject {
	v, _ := c.Get(keySubject)
	s, _ := v.(Subject)
	return s
}

// namespace resolves "_" to the caller's namespace and refuses others.
func (s *Server) namespace(c *gin.Context) {
	subj := subjectOf(c)
	ns := c.Param("ns")
	if ns == "_" {
		ns = subj.Namespace
	}
	if ns != subj.Namespace {
		s.fail(c, http.StatusForbidden, "The supplied authentication is not authorized to access '"+ns+"'.")
		return
	}
	c.Set(keyNamespace, ns)
}

func nsOf(c *gin.Context) string { return c.GetString(keyNamespace) }

func (s *Server) info(c *gin.Context) {
	c.JSON(http.StatusOK, whisk.Info{
		Description: "OpenWhisk API", APIVersion: "1.0.0", APIVersionPath: "v1",
		Build: s.o.Build, BuildNo: s.o.Build,
		SwaggerPaths: map[string]string{"ui": "/docs", "api-docs": "/api-docs"},
	})
}

func (s *Server) namespaces(c *gin.Context) {
	c.JSON(http.StatusOK, []string{subjectOf(c).Namespace})
}

// storeError answers a records error.
func (s *Server) storeError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, records.ErrNotFound):
		s.fail(c, http.StatusNotFound, msgNotFound)
	case errors.Is(err, records.ErrExists):
		s.fail(c, http.StatusConflict, msgExists)
	case errors.Is(err, records.ErrInvalid):
		s.fail(c, http.StatusBadRequest, err.Error())
	default:
		s.lg.Error("records", "err", err, "tid", tidOf(c))
		s.fail(c, http.StatusInternalServerError, "The records could not be read or written: "+err.Error())
	}
}
