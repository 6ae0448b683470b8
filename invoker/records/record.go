package records

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/marvel-serverless/marvel/invoker/records/internal/format"
	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// recordHead is what recovery decodes of a record's head JSON (the
// activation without logs and response) to rebuild its index entry.
type recordHead struct {
	Namespace    string          `json:"namespace"`
	Name         string          `json:"name"`
	Subject      string          `json:"subject,omitempty"`
	ActivationID string          `json:"activationId"`
	Start        int64           `json:"start"`
	End          int64           `json:"end"`
	Duration     int64           `json:"duration"`
	Cause        string          `json:"cause,omitempty"`
	Version      string          `json:"version"`
	Publish      bool            `json:"publish"`
	Annotations  json.RawMessage `json:"annotations"`
}

// recordBody is the rest of a record.
type recordBody struct {
	Logs     []string        `json:"logs,omitempty"`
	Response *whisk.Response `json:"response,omitempty"`
}

// encodeRecord checks a and splits it into head and body JSON and its index
// entry (without location).
func encodeRecord(a whisk.Activation, maxBytes int) (e *entry, head, body []byte, status byte, err error) {
	id, err := parseID(a.ActivationID)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	if a.Namespace == "" {
		return nil, nil, nil, 0, fmt.Errorf("%w: activation %s has no namespace", ErrInvalid, a.ActivationID)
	}
	status = format.NoStatus
	if sc := a.Summary().StatusCode; sc != nil {
		if *sc < whisk.CodeSuccess || *sc > whisk.CodeWhiskError {
			return nil, nil, nil, 0, fmt.Errorf("%w: activation %s has status code %d: want 0 to 3", ErrInvalid, a.ActivationID, *sc)
		}
		status = byte(*sc)
	}
	h := a
	h.Logs, h.Response = nil, nil
	if head, err = json.Marshal(h); err != nil {
		return nil, nil, nil, 0, fmt.Errorf("%w: activation %s: %w", ErrInvalid, a.ActivationID, err)
	}
	if body, err = json.Marshal(recordBody{Logs: a.Logs, Response: a.Response}); err != nil {
		return nil, nil, nil, 0, fmt.Errorf("%w: activation %s: %w", ErrInvalid, a.ActivationID, err)
	}
	if n := format.FrameHeaderSize + len(head) + len(body); n > maxBytes {
		return nil, nil, nil, 0, fmt.Errorf("%w: activation %s takes %d bytes, above the %d-byte limit on a record (cut its logs or result)",
			ErrInvalid, a.ActivationID, n, maxBytes)
	}
	e = &entry{
		id: id, ns: a.Namespace, name: a.Name, subject: a.Subject, version: a.Version, cause: a.Cause,
		start: a.Start, end: a.End, duration: a.Duration, publish: a.Publish, status: -1,
	}
	if status != format.NoStatus {
		e.status = int8(status)
	}
	if len(a.Annotations) > 0 {
		if e.annotations, err = json.Marshal(a.Annotations); err != nil {
			return nil, nil, nil, 0, fmt.Errorf("%w: activation %s: annotations: %w", ErrInvalid, a.ActivationID, err)
		}
	}
	return e, head, body, status, nil
}

// entryFromHead rebuilds an index entry from a recovered record.
func entryFromHead(h *recordHead, status byte) (*entry, error) {
	id, err := parseID(h.ActivationID)
	if err != nil {
		return nil, fmt.Errorf("record head: %w", err)
	}
	if h.Namespace == "" {
		return nil, fmt.Errorf("record head of %s has no namespace", h.ActivationID)
	}
	e := &entry{
		id: id, ns: h.Namespace, name: h.Name, subject: h.Subject, version: h.Version, cause: h.Cause,
		start: h.Start, end: h.End, duration: h.Duration, publish: h.Publish, status: -1,
	}
	if status != format.NoStatus {
		e.status = int8(status)
	}
	if a := h.Annotations; len(a) > 0 && string(a) != "[]" && string(a) != "null" {
		var kv whisk.KeyValues
		if err := json.Unmarshal(a, &kv); err != nil {
			return nil, fmt.Errorf("record head of %s: annotations: %w", h.ActivationID, err)
		}
		e.annotations = []byte(a)
	}
	return e, nil
}

// decodeRecord rebuilds the full activation from a frame's payload.
func decodeRecord(f format.Frame, payload []byte, id [16]byte) (whisk.Activation, error) {
	var a whisk.Activation
	if err := json.Unmarshal(payload[:f.HeadLength], &a); err != nil {
		return a, fmt.Errorf("record head: %w", err)
	}
	var b recordBody
	if err := json.Unmarshal(payload[f.HeadLength:], &b); err != nil {
		return a, fmt.Errorf("record body: %w", err)
	}
	if a.ActivationID != hex.EncodeToString(id[:]) {
		return a, fmt.Errorf("record holds activation %q, the index expected %x", a.ActivationID, id)
	}
	a.Logs, a.Response = b.Logs, b.Response
	return a, nil
}
