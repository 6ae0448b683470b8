package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	guestAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
	guestUser = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"
	guestKey  = "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
)

// envOf returns a getenv over m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func TestLoadConfig(t *testing.T) {
	home := t.TempDir()
	writeFile(t, home, ".wskprops", "APIHOST=home.example.com\nAUTH="+guestAuth+"\n")
	other := t.TempDir()
	props := writeFile(t, other, "props", strings.Join([]string{
		"# a comment",
		"",
		"  APIHOST = file.example.com:443  ",
		"AUTH=" + guestAuth,
		"NAMESPACE=guest",
		"APIVERSION=v1",
		"APIGW_ACCESS_TOKEN=ignored",
		"this line has no equals sign",
		"=no key",
		"INSECURE_SSL=true",
	}, "\n"))
	withEq := writeFile(t, other, "eq", "AUTH=a:b=c\nNAMESPACE=first\nNAMESPACE=second\n")
	badBool := writeFile(t, other, "badbool", "INSECURE_SSL=maybe\n")

	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "nothing", env: nil,
			want: DefaultConfig()},
		{name: "missing HOME file", env: map[string]string{"HOME": t.TempDir()},
			want: DefaultConfig()},
		{name: "missing WSK_CONFIG_FILE", env: map[string]string{"WSK_CONFIG_FILE": filepath.Join(other, "absent")},
			want: DefaultConfig()},
		{name: "HOME file", env: map[string]string{"HOME": home},
			want: with(DefaultConfig(), func(c *Config) { c.APIHost, c.Auth = "home.example.com", guestAuth })},
		{name: "WSK_CONFIG_FILE over HOME, malformed lines skipped", env: map[string]string{"HOME": home, "WSK_CONFIG_FILE": props},
			want: with(DefaultConfig(), func(c *Config) {
				c.APIHost, c.Auth, c.Namespace, c.Insecure = "file.example.com:443", guestAuth, "guest", true
			})},
		{name: "env over file", env: map[string]string{"WSK_CONFIG_FILE": props,
			"WHISK_APIHOST": "127.0.0.1:3233", "WHISK_AUTH": "u:k", "WHISK_NAMESPACE": "other", "WHISK_APIVERSION": "v2"},
			want: with(DefaultConfig(), func(c *Config) {
				c.APIHost, c.Auth, c.Namespace, c.APIVersion, c.Insecure = "127.0.0.1:3233", "u:k", "other", "v2", true
			})},
		{name: "empty env does not override", env: map[string]string{"HOME": home, "WHISK_APIHOST": " "},
			want: with(DefaultConfig(), func(c *Config) { c.APIHost, c.Auth = "home.example.com", guestAuth })},
		{name: "value after the first =, last key wins", env: map[string]string{"WSK_CONFIG_FILE": withEq},
			want: with(DefaultConfig(), func(c *Config) { c.Auth, c.Namespace = "a:b=c", "second" })},
		{name: "INSECURE_SSL not a boolean", env: map[string]string{"WSK_CONFIG_FILE": badBool},
			wantErr: `INSECURE_SSL="maybe" is not true or false`},
		{name: "file is a directory", env: map[string]string{"WSK_CONFIG_FILE": other},
			wantErr: "client: read the wsk property file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadConfig(envOf(tc.env))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	got, err := LoadConfig(nil)
	require.NoError(t, err)
	require.Equal(t, DefaultConfig(), got)
}

func with(c Config, f func(*Config)) Config {
	f(&c)
	return c
}

func TestNewValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{name: "guest", cfg: Config{APIHost: "127.0.0.1:3233", Auth: guestAuth}},
		{name: "no auth is fine for Info", cfg: Config{APIHost: "https://ow.example.com"}},
		{name: "no host", cfg: Config{Auth: guestAuth},
			want: []string{"client: no API host"}},
		{name: "no colon", cfg: Config{APIHost: "h", Auth: guestKey},
			want: []string{"not of the form UUID:KEY"}},
		{name: "short key", cfg: Config{APIHost: "h", Auth: guestUser + ":short"},
			want: []string{"key of 5 characters after the colon: want 64"}},
		{name: "empty subject", cfg: Config{APIHost: "h", Auth: ":" + guestKey},
			want: []string{"empty or blank subject"}},
		{name: "bad scheme", cfg: Config{APIHost: "ftp://h", Auth: guestAuth},
			want: []string{`scheme "ftp": want http or https`}},
		{name: "query in host", cfg: Config{APIHost: "https://h/?x=1", Auth: guestAuth},
			want: []string{"no user, query or fragment"}},
		{name: "bad namespace", cfg: Config{APIHost: "h", Auth: guestAuth, Namespace: "a/b"},
			want: []string{"client: namespace:"}},
		{name: "bad version", cfg: Config{APIHost: "h", Auth: guestAuth, APIVersion: "v1/x"},
			want: []string{"API version"}},
		{name: "every problem at once", cfg: Config{Auth: "nocolon", Namespace: "@x", MaxReplyBytes: -1},
			want: []string{"no API host", "not of the form", "client: namespace:", "negative reply limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if len(tc.want) == 0 {
				require.NoError(t, err)
				require.NotNil(t, c)
				require.Equal(t, "_", c.Config().Namespace)
				require.Equal(t, "v1", c.Config().APIVersion)
				return
			}
			require.Error(t, err)
			require.Nil(t, c)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), guestKey, "the key must not appear in errors")
		})
	}
}

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"127.0.0.1:3233", "http://127.0.0.1:3233/api"},
		{"127.1.2.3:3233", "http://127.1.2.3:3233/api"},
		{"localhost:3233", "http://localhost:3233/api"},
		{"LOCALHOST", "http://LOCALHOST/api"},
		{"[::1]:3233", "http://[::1]:3233/api"},
		{"openwhisk.example.com", "https://openwhisk.example.com/api"},
		{"openwhisk.example.com:8443/", "https://openwhisk.example.com:8443/api"},
		{"172.17.0.1", "https://172.17.0.1/api"},
		{"http://ow.example.com:3233", "http://ow.example.com:3233/api"},
		{"https://127.0.0.1", "https://127.0.0.1/api"},
		{" https://ow.example.com/prefix/ ", "https://ow.example.com/prefix/api"},
	} {
		u, err := baseURL(tc.host)
		require.NoError(t, err, tc.host)
		require.Equal(t, tc.want, u.String(), tc.host)
	}
	for _, bad := range []string{"ftp://h", "http://", "https://user:pw@h", "https://h#frag", "http://h:port"} {
		_, err := baseURL(bad)
		require.Error(t, err, bad)
	}
}

func TestEntityNames(t *testing.T) {
	c, err := New(Config{APIHost: "h", Auth: guestAuth, Namespace: "guest"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, ns string
		segs     []string
	}{
		{"hello", "guest", []string{"hello"}},
		{"pkg/hello", "guest", []string{"pkg", "hello"}},
		{"/other/hello", "other", []string{"hello"}},
		{"/other/pkg/hello", "other", []string{"pkg", "hello"}},
		{"/_/hello", "_", []string{"hello"}},
	} {
		ns, segs, err := c.entity(tc.name)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.ns, ns, tc.name)
		require.Equal(t, tc.segs, segs, tc.name)
	}
	for _, bad := range []string{"", "/", "/ns", "//a", "/ns/", "a//b", "a/", "/a", "a/b/c", "/ns/a/b/c"} {
		_, _, err := c.entity(bad)
		require.True(t, errors.Is(err, ErrBadName), "%q: %v", bad, err)
	}
}

func FuzzParseProps(f *testing.F) {
	f.Add([]byte("APIHOST=h\nAUTH=a:b\n# c\n\nbad\n=x\nK = v = w\n"))
	f.Add([]byte("\x00=\xff\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := parseProps(data)
		if err != nil {
			return
		}
		for k, v := range props {
			if k == "" || strings.ContainsAny(k, "\n") || strings.Contains(v, "\n") {
				t.Fatalf("bad entry %q=%q", k, v)
			}
		}
	})
}
