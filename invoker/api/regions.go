package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/marvel-serverless/marvel/invoker"
	"github.com/marvel-serverless/marvel/invoker/whisk"
	"github.com/marvel-serverless/marvel/pmem"
)

// Job regions, a Marvel extension of the API (not in OpenWhisk): a job
// (MapReduce shuffle) takes PMEM capacity under a lease it renews by
// repeating the PUT, and gives it back with DELETE when done; a job that
// stops renewing loses it after a lease and a grace period.
//
//	PUT    /api/v1/namespaces/_/regions/JOB?size=BYTES  grant, or renew
//	DELETE /api/v1/namespaces/_/regions/JOB             release
//	GET    /api/v1/namespaces/_/regions                 the namespace's jobs

func (s *Server) putRegion(c *gin.Context) {
	size := int64(0)
	if v := c.Query("size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			s.fail(c, http.StatusBadRequest, fmt.Sprintf("The value '%s' is not a positive number of bytes for parameter size.", v))
			return
		}
		size = n
	}
	if size == 0 {
		size = 64 << 20
	}
	r, err := s.v.GrantJob(nsOf(c), c.Param("job"), size)
	var capErr *pmem.CapacityError
	switch {
	case errors.As(err, &capErr):
		s.fail(c, http.StatusServiceUnavailable, "Not enough PMEM capacity for the job: "+err.Error()+"; release finished jobs or ask for less.")
		return
	case errors.Is(err, pmem.ErrInvalid):
		s.fail(c, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		s.fail(c, http.StatusBadRequest, err.Error())
		return
	}
	c.JSON(http.StatusOK, r)
}

func (s *Server) deleteRegion(c *gin.Context) {
	if err := whisk.ValidName(c.Param("job")); err != nil {
		s.fail(c, http.StatusBadRequest, "The job name is not valid: "+err.Error())
		return
	}
	err := s.v.ReleaseJob(nsOf(c), c.Param("job"))
	switch {
	case errors.Is(err, invoker.ErrNoJob):
		s.fail(c, http.StatusNotFound, msgNotFound)
		return
	case err != nil:
		s.fail(c, http.StatusInternalServerError, err.Error())
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (s *Server) listRegions(c *gin.Context) {
	out := s.v.Jobs(nsOf(c))
	if out == nil {
		out = []invoker.JobRegion{}
	}
	c.JSON(http.StatusOK, out)
}
