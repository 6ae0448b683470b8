package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/records"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

func (s *Server) invoke(c *gin.Context) {
	ns, name := nsOf(c), c.Param("name")
	body, ok := readBody(c, MaxParamsBytes)
	if !ok {
		s.fail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s (the parameters exceed %d bytes).", msgTooLarge, MaxParamsBytes))
		return
	}
	if t := strings.TrimSpace(string(body)); t != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
			s.fail(c, http.StatusBadRequest, "The request content was malformed:\nthe parameters must be a JSON object")
			return
		}
	}
	blocking := c.Query("blocking") == "true"
	result := c.Query("result") == "true"
	wait := MaxBlockingWait
	if v := c.Query("timeout"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			s.fail(c, http.StatusBadRequest, fmt.Sprintf("The value '%s' is not a positive number of milliseconds for parameter timeout.", v))
			return
		}
		wait = min(time.Duration(ms)*time.Millisecond, MaxBlockingWait)
	}
	a, err := s.rec.GetAction(ns, name, false) // the code is read at a cold start only
	if err != nil {
		s.storeError(c, err)
		return
	}
	subj := subjectOf(c)
	p, err := s.v.Start(invoker.Request{
		Namespace: ns, Action: a, Params: body, APIKey: subj.UUID + ":" + subj.Key, TransactionID: tidOf(c),
	})
	if err != nil {
		s.fail(c, http.StatusServiceUnavailable, "The invoker is shutting down; try again later.")
		return
	}
	c.Header(headerActivation, p.ID)
	if !blocking {
		c.JSON(http.StatusAccepted, whisk.ActivationID{ActivationID: p.ID})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), wait)
	defer cancel()
	rec, err := p.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		c.JSON(http.StatusAccepted, whisk.ActivationID{ActivationID: p.ID})
		return
	}
	if err != nil { // ran, but could not be recorded: say so, with the outcome
		s.lg.Error("activation not recorded", "activation", p.ID, "err", err)
	}
	resp := rec.Response
	status := http.StatusOK
	switch resp.Status {
	case whisk.StatusApplicationError, whisk.StatusDeveloperError:
		status = http.StatusBadGateway
	case whisk.StatusWhiskError:
		status = http.StatusInternalServerError
	}
	if result {
		if status == http.StatusInternalServerError {
			s.fail(c, status, whiskMessage(resp))
			return
		}
		c.Data(status, "application/json; charset=utf-8", resultBody(resp))
		return
	}
	c.JSON(status, rec)
}

// resultBody is the result of a response, {} if it has none.
func resultBody(r *whisk.Response) []byte {
	if len(r.Result) == 0 {
		return []byte("{}")
	}
	return r.Result
}

// whiskMessage is the error text of a whisk internal error.
func whiskMessage(r *whisk.Response) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(r.Result, &e) == nil && e.Error != "" {
		return e.Error
	}
	return "An internal error occurred."
}

func (s *Server) listActivations(c *gin.Context) {
	limit, skip, ok := s.paging(c)
	if !ok {
		return
	}
	q := records.Query{Name: c.Query("name"), Skip: skip, Limit: limit}
	for _, p := range []struct {
		key string
		dst *int64
	}{{"since", &q.Since}, {"upto", &q.Upto}} {
		if v := c.Query(p.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				s.fail(c, http.StatusBadRequest, fmt.Sprintf("The value '%s' is not epoch milliseconds for parameter %s.", v, p.key))
				return
			}
			*p.dst = n
		}
	}
	if q.Name != "" {
		// wsk sends the name as "package/action" or "action"; a path
		// with the namespace is accepted too.
		q.Name = q.Name[strings.LastIndex(q.Name, "/")+1:]
	}
	ns := nsOf(c)
	if c.Query("count") == "true" {
		q.Skip, q.Limit = 0, 0
		c.JSON(http.StatusOK, whisk.Count{Activations: s.rec.CountActivations(ns, q)})
		return
	}
	list, err := s.rec.ListActivations(ns, q, c.Query("docs") == "true")
	if err != nil {
		s.storeError(c, err)
		return
	}
	if list == nil {
		list = []whisk.Activation{}
	}
	c.JSON(http.StatusOK, list)
}

// activation loads the activation named in the path, or answers 404.
func (s *Server) activation(c *gin.Context) (whisk.Activation, bool) {
	a, err := s.rec.GetActivation(nsOf(c), c.Param("id"))
	if err != nil {
		s.storeError(c, err)
		return a, false
	}
	return a, true
}

func (s *Server) getActivation(c *gin.Context) {
	if a, ok := s.activation(c); ok {
		c.JSON(http.StatusOK, a)
	}
}

func (s *Server) activationLogs(c *gin.Context) {
	if a, ok := s.activation(c); ok {
		logs := a.Logs
		if logs == nil {
			logs = []string{}
		}
		c.JSON(http.StatusOK, gin.H{"logs": logs})
	}
}

func (s *Server) activationResult(c *gin.Context) {
	if a, ok := s.activation(c); ok {
		c.JSON(http.StatusOK, a.Response)
	}
}
