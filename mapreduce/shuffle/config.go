package shuffle

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/marvel-serverless/marvel/pmem"
)

// Store kinds, the values of Config.Kind.
const (
	KindPMEM  = "pmem"  // files in the PMEM namespace, mapped (zero-copy reads)
	KindDisk  = "disk"  // files on a local disk, read and written (fsynced)
	KindRedis = "redis" // values in a Redis server
	KindS3    = "s3"    // objects in an S3-compatible object store
)

// Kinds lists every store kind, the local ones first.
var Kinds = []string{KindPMEM, KindDisk, KindRedis, KindS3}

// MaxValueSize bounds a value: Put refuses a longer one (ErrTooLarge).
const MaxValueSize = 1 << 30

// Config says which store to open and how. It is JSON-serializable: the job
// driver passes it to every task in its parameters. Latency is encoded as an
// integer number of nanoseconds; a string such as "2ms" is accepted too.
type Config struct {
	Kind string `json:"kind"`          // "pmem", "redis", "s3", "disk"
	Dir  string `json:"dir,omitempty"` // pmem: a directory in the PMEM namespace (e.g. <MARVEL_FILES_DIR>/.shuffle); disk: a directory on a local disk. Must be absolute.
	// Mode is the pmem mapping mode: "auto" (the default when empty),
	// "fsdax" or "emulated".
	Mode      string `json:"mode,omitempty"`
	Addr      string `json:"addr,omitempty"` // redis: host:port; s3: endpoint host:port (http)
	Bucket    string `json:"bucket,omitempty"`
	AccessKey string `json:"accessKey,omitempty"`
	SecretKey string `json:"secretKey,omitempty"`
	Password  string `json:"password,omitempty"` // redis AUTH, if set
	// Latency is injected before every request (remote-store emulation;
	// callers label results "with N injected latency"). Redis: before every
	// command, each new connection's HELLO included; S3: before every HTTP
	// request; pmem and disk: before every operation.
	Latency time.Duration `json:"latency,omitempty"`
}

// Validate reports every problem of c at once, each wrapping
// ErrInvalidConfig; nil if c can be opened.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	switch c.Kind {
	case KindPMEM, KindDisk:
		switch {
		case c.Dir == "":
			bad("%s store: dir is empty (want an absolute directory)", c.Kind)
		case !filepath.IsAbs(c.Dir):
			bad("%s store: dir %q is not absolute", c.Kind, c.Dir)
		}
		if c.Kind == KindPMEM {
			if _, err := parseMode(c.Mode); err != nil {
				bad("pmem store: %w", err)
			}
		} else if c.Mode != "" {
			bad("disk store: mode %q applies to pmem stores only", c.Mode)
		}
	case KindRedis, KindS3:
		if err := checkAddr(c.Addr); err != nil {
			bad("%s store: addr %q: %w", c.Kind, c.Addr, err)
		}
		if c.Kind == KindS3 {
			if err := checkBucket(c.Bucket); err != nil {
				bad("s3 store: bucket %q: %w", c.Bucket, err)
			}
			if c.AccessKey == "" || c.SecretKey == "" {
				bad("s3 store: accessKey and secretKey are required")
			}
		}
		if c.Mode != "" {
			bad("%s store: mode %q applies to pmem stores only", c.Kind, c.Mode)
		}
	case "":
		bad("kind is empty (want pmem, disk, redis or s3)")
	default:
		bad("unknown kind %q (want pmem, disk, redis or s3)", c.Kind)
	}
	if c.Latency < 0 {
		bad("latency %v is negative", c.Latency)
	}
	return errors.Join(errs...)
}

// Label names the store in results: its kind, with "+latency" when latency
// is injected ("s3+2ms").
func (c Config) Label() string {
	if c.Latency > 0 {
		return c.Kind + "+" + c.Latency.String()
	}
	return c.Kind
}

// UnmarshalJSON decodes c, accepting latency as nanoseconds or as a Go
// duration string ("2ms").
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	var v struct {
		plain
		Latency json.RawMessage `json:"latency,omitempty"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Config(v.plain)
	c.Latency = 0
	if len(v.Latency) == 0 || string(v.Latency) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(v.Latency, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%w: latency %q: %w", ErrInvalidConfig, s, err)
		}
		c.Latency = d
		return nil
	}
	var n int64
	if err := json.Unmarshal(v.Latency, &n); err != nil {
		return fmt.Errorf("%w: latency %s: want nanoseconds or a duration string such as \"2ms\"", ErrInvalidConfig, v.Latency)
	}
	c.Latency = time.Duration(n)
	return nil
}

// parseMode maps Config.Mode to a pmem mapping mode.
func parseMode(s string) (pmem.Mode, error) {
	switch s {
	case "", "auto":
		return pmem.ModeAuto, nil
	case "fsdax":
		return pmem.ModeFSDax, nil
	case "emulated":
		return pmem.ModeEmulated, nil
	}
	return pmem.ModeAuto, fmt.Errorf("unknown mode %q (want auto, fsdax or emulated)", s)
}

func checkAddr(addr string) error {
	if addr == "" {
		return errors.New("empty (want host:port)")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("no host (want host:port)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number in 1..65535", port)
	}
	return nil
}

// checkBucket applies the S3 bucket naming rules that matter here: 3 to 63
// lowercase letters, digits, dots and hyphens, starting and ending with a
// letter or digit.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return errors.New("want 3 to 63 characters")
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9'
		if !alnum && ((i == 0 || i == len(b)-1) || ch != '.' && ch != '-') {
			return errors.New("want lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit")
		}
	}
	return nil
}
