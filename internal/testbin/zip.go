package testbin

import (
	"archive/zip"
	"bytes"
)

// ZipExec returns a zip holding body as exec (mode 0755) at its root: a
// precompiled ActionLoop action as /init takes it (base64-encoded).
func ZipExec(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "exec", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
