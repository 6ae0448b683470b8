package proxy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// actionCache keeps the executables /init makes (unpacked from a zip that
// holds only exec, or built from Go source) by the digest of what produced
// them, so a cold start of an action this node has run before skips the
// unpacking and the build. The directory must not be writable by actions:
// whatever is cached under a digest runs as the action with that code.
type actionCache struct{ dir string }

// key digests everything the executable depends on: the code as sent, how
// it is read (binary), the entry point, and the toolchain and SDK a build
// would use.
func (c *actionCache) key(v *initValue, binary bool, goTool, sdk string) string {
	h := sha256.New()
	for _, part := range []string{v.Code, strconv.FormatBool(binary), v.Main, goTool, sdk} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lookup returns the cached executable for key, if there is one.
func (c *actionCache) lookup(key string) (string, bool) {
	p := filepath.Join(c.dir, key)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", false
	}
	return p, true
}

// store copies exe into the cache under key (atomically: a reader never
// sees a partial file).
func (c *actionCache) store(key, exe string) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	var suffix [6]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(c.dir, "."+key+".tmp-"+hex.EncodeToString(suffix[:]))
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o555)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(c.dir, key))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// onlyExec reports whether dir holds nothing but the file exec, so that the
// executable alone can stand for the action.
func onlyExec(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 1 && entries[0].Name() == "exec" && entries[0].Type().IsRegular()
}
