package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// Defaults of a Config.
const (
	DefaultNamespace      = "_"
	DefaultAPIVersion     = "v1"
	DefaultMaxReplyBytes  = 64 << 20
	DefaultRequestTimeout = 2 * time.Minute
	// keyLen is the length of the key part of an OpenWhisk auth key.
	keyLen = 64
)

// Config says which OpenWhisk API to talk to and as whom.
type Config struct {
	// APIHost is "host[:port]" or a URL ("https://host:port[/prefix]"). The
	// API is under <APIHost>/api/<APIVersion>. Without a scheme it is
	// https://, as wsk does, except for the loopback hosts localhost,
	// 127.0.0.0/8 and ::1, which get http:// (`marvel standalone` serves
	// plain HTTP on 127.0.0.1:3233).
	APIHost string
	// Auth is "uuid:key" with a key of 64 characters. It may be empty only
	// for Info; every other call then fails with ErrNoAuth.
	Auth string
	// Namespace is the default namespace of entity names (default "_",
	// the caller's own). A name "/ns/pkg/action" names its own namespace.
	Namespace string
	// APIVersion is the path element after /api (default "v1").
	APIVersion string
	// Insecure skips TLS certificate verification. It applies to the
	// default HTTP client only (HTTPClient nil).
	Insecure bool
	// HTTPClient sends the requests. nil: a client of the Client's own with
	// dial, TLS handshake and idle timeouts, and no overall timeout (each
	// call bounds itself, see RequestTimeout).
	HTTPClient *http.Client
	// UserAgent is the User-Agent header (default "marvel-openwhisk-client").
	UserAgent string
	// RequestTimeout bounds each call but blocking invokes (default 2
	// minutes; negative: no bound beyond the caller's context). A blocking
	// invoke is bounded by its InvokeOptions.Timeout plus RequestTimeout
	// when that is set, and else only by the server and the context.
	RequestTimeout time.Duration
	// MaxReplyBytes bounds a reply body (default 64 MiB); a larger one is
	// an error wrapping ErrReplyTooLarge.
	MaxReplyBytes int64
	// Logger receives a debug line per request. nil is silent.
	Logger *slog.Logger
}

// DefaultConfig returns a fresh Config with the defaults filled in and no
// host or auth.
func DefaultConfig() Config {
	return Config{
		Namespace:      DefaultNamespace,
		APIVersion:     DefaultAPIVersion,
		UserAgent:      "marvel-openwhisk-client",
		RequestTimeout: DefaultRequestTimeout,
		MaxReplyBytes:  DefaultMaxReplyBytes,
	}
}

// withDefaults fills the zero fields of c with their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Namespace == "" {
		c.Namespace = d.Namespace
	}
	if c.APIVersion == "" {
		c.APIVersion = d.APIVersion
	}
	if c.UserAgent == "" {
		c.UserAgent = d.UserAgent
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.MaxReplyBytes == 0 {
		c.MaxReplyBytes = d.MaxReplyBytes
	}
	return c
}

// Validate reports every problem with c at once. Zero fields that have a
// default are not problems.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.TrimSpace(c.APIHost) == "" {
		errs = append(errs, errors.New("client: no API host (set APIHOST in the wsk property file, WHISK_APIHOST, or --apihost)"))
	} else if _, err := baseURL(c.APIHost); err != nil {
		errs = append(errs, err)
	}
	if c.Auth != "" {
		if err := checkAuth(c.Auth); err != nil {
			errs = append(errs, err)
		}
	}
	if err := whisk.ValidName(c.Namespace); err != nil {
		errs = append(errs, fmt.Errorf("client: namespace: %w", err))
	}
	if strings.ContainsAny(c.APIVersion, "/?#% ") {
		errs = append(errs, fmt.Errorf("client: API version %q: want one path element such as v1", c.APIVersion))
	}
	if c.MaxReplyBytes < 0 {
		errs = append(errs, fmt.Errorf("client: negative reply limit %d", c.MaxReplyBytes))
	}
	return errors.Join(errs...)
}

// checkAuth checks the form uuid:key with a 64-character key. The subject
// part is only required to be non-empty: OpenWhisk makes it a UUID, other
// servers may not.
func checkAuth(auth string) error {
	subject, key, ok := strings.Cut(auth, ":")
	switch {
	case !ok:
		return errors.New("client: auth key is not of the form UUID:KEY (no colon)")
	case subject == "" || strings.ContainsAny(subject, " \t\r\n"):
		return errors.New("client: auth key has an empty or blank subject before the colon: want UUID:KEY")
	case len(key) != keyLen:
		return fmt.Errorf("client: auth key has a key of %d characters after the colon: want %d", len(key), keyLen)
	}
	return nil
}

// baseURL returns the URL of the API root (<host>/api) for an APIHost.
func baseURL(apiHost string) (*url.URL, error) {
	h := strings.TrimSpace(apiHost)
	hasScheme := strings.Contains(h, "://")
	h = strings.TrimRight(h, "/")
	if !hasScheme {
		scheme := "https"
		if isLoopback(h) {
			scheme = "http"
		}
		h = scheme + "://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return nil, fmt.Errorf("client: API host %q: %w", apiHost, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: API host %q: scheme %q: want http or https", apiHost, u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: API host %q: want host[:port] or a URL with a host and no user, query or fragment", apiHost)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api"
	u.RawPath = ""
	return u, nil
}

// isLoopback reports whether the host of "host[:port]" is localhost or a
// loopback address.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Property-file keys and environment variables LoadConfig reads.
const (
	propAPIHost    = "APIHOST"
	propAuth       = "AUTH"
	propNamespace  = "NAMESPACE"
	propAPIVersion = "APIVERSION"
	propInsecure   = "INSECURE_SSL"

	envConfigFile = "WSK_CONFIG_FILE"
	envHome       = "HOME"
)

// envOverrides maps the environment variables that override property-file
// keys, as wsk reads them.
var envOverrides = []struct{ env, prop string }{
	{"WHISK_APIHOST", propAPIHost},
	{"WHISK_AUTH", propAuth},
	{"WHISK_NAMESPACE", propNamespace},
	{"WHISK_APIVERSION", propAPIVersion},
}

// LoadConfig builds a Config the way wsk finds its settings: the property
// file named by WSK_CONFIG_FILE, else $HOME/.wskprops (a missing file is
// fine), with the keys APIHOST, AUTH, NAMESPACE and APIVERSION, then the
// environment variables WHISK_APIHOST, WHISK_AUTH, WHISK_NAMESPACE and
// WHISK_APIVERSION over them. Unset values get DefaultConfig's.
//
// The file holds KEY=VALUE lines; blank lines, lines starting with # and
// lines without = are skipped, and unknown keys are ignored, as wsk does
// (wsk also skips a line holding a second =; here the value is everything
// after the first). INSECURE_SSL=true (any strconv.ParseBool form) sets
// Insecure; it is a Marvel extension that wsk ignores (wsk has only its -i
// flag).
//
// getenv looks up environment variables (os.Getenv in a program); nil
// means none are set. The returned Config is not validated: flags may still
// complete it before New.
func LoadConfig(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg := DefaultConfig()
	path := getenv(envConfigFile)
	if path == "" {
		if home := getenv(envHome); home != "" {
			path = filepath.Join(home, ".wskprops")
		}
	}
	props := map[string]string{}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return cfg, fmt.Errorf("client: read the wsk property file: %w", err)
		default:
			if props, err = parseProps(data); err != nil {
				return cfg, fmt.Errorf("client: read the wsk property file %s: %w", path, err)
			}
		}
	}
	for _, o := range envOverrides {
		if v := strings.TrimSpace(getenv(o.env)); v != "" {
			props[o.prop] = v
		}
	}
	if v := props[propAPIHost]; v != "" {
		cfg.APIHost = v
	}
	if v := props[propAuth]; v != "" {
		cfg.Auth = v
	}
	if v := props[propNamespace]; v != "" {
		cfg.Namespace = v
	}
	if v := props[propAPIVersion]; v != "" {
		cfg.APIVersion = v
	}
	if v, ok := props[propInsecure]; ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("client: %s: %s=%q is not true or false", path, propInsecure, v)
		}
		cfg.Insecure = b
	}
	return cfg, nil
}

// parseProps reads KEY=VALUE lines (see LoadConfig). A key given twice
// keeps its last value.
func parseProps(data []byte) (map[string]string, error) {
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if k = strings.TrimSpace(k); k != "" {
			props[k] = strings.TrimSpace(v)
		}
	}
	return props, sc.Err()
}
