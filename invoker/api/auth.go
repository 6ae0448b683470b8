package api

import (
	"bufio"
	"crypto/subtle"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// GuestKey is OpenWhisk's standard key of namespace guest (uuid:key).
const GuestKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

// Subject is an authorized caller: a key and its namespace.
type Subject struct {
	UUID, Key string
	Namespace string
}

// Keys maps credentials to namespaces.
type Keys struct {
	byUUID map[string]Subject
}

// NewKeys returns the guest key alone.
func NewKeys() *Keys {
	k := &Keys{byUUID: map[string]Subject{}}
	if err := k.Add("guest", GuestKey); err != nil {
		panic(err)
	}
	return k
}

// Add gives namespace ns the credentials auth ("uuid:key", the key of 64
// characters).
func (k *Keys) Add(ns, auth string) error {
	if err := whisk.ValidName(ns); err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	uuid, key, ok := strings.Cut(auth, ":")
	if !ok || uuid == "" || len(key) != 64 {
		return fmt.Errorf("credentials of namespace %s: want uuid:key with a key of 64 characters", ns)
	}
	if old, dup := k.byUUID[uuid]; dup && old.Namespace != ns {
		return fmt.Errorf("uuid %s is given to both %s and %s", uuid, old.Namespace, ns)
	}
	k.byUUID[uuid] = Subject{UUID: uuid, Key: key, Namespace: ns}
	return nil
}

// Namespaces lists the namespaces that have keys.
func (k *Keys) Namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range k.byUUID {
		if !seen[s.Namespace] {
			seen[s.Namespace] = true
			out = append(out, s.Namespace)
		}
	}
	return out
}

// Check returns the subject of credentials uuid, key.
func (k *Keys) Check(uuid, key string) (Subject, bool) {
	s, ok := k.byUUID[uuid]
	if !ok || subtle.ConstantTimeCompare([]byte(s.Key), []byte(key)) != 1 {
		return Subject{}, false
	}
	return s, true
}

// LoadKeys adds the keys in file path: one "NAMESPACE UUID:KEY" per line;
// blank lines and lines starting with # are skipped.
func (k *Keys) LoadKeys(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("keys file: %w", err)
	}
	defer f.Close()
	return k.read(path, f)
}

func (k *Keys) read(path string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return fmt.Errorf("%s:%d: want \"NAMESPACE UUID:KEY\", got %d fields", path, n, len(f))
		}
		if err := k.Add(f[0], f[1]); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
