package records

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"

	"github.com/marvel-serverless/marvel/invoker/whisk"
)

// GetAction returns action name of namespace ns (ErrNotFound if absent).
// With withCode false, Exec.Code is nil and nothing is read from disk;
// with withCode true the code is read from the action's file and checked.
func (s *Store) GetAction(ns, name string, withCode bool) (whisk.Action, error) {
	if err := checkKey(ns, name); err != nil {
		return whisk.Action{}, err
	}
	if !s.enter() {
		return whisk.Action{}, fmt.Errorf("%w: get action %s/%s", ErrClosed, ns, name)
	}
	defer s.leave()
	s.amu.RLock()
	m := s.actions[ns][name]
	s.amu.RUnlock()
	if m == nil {
		return whisk.Action{}, actionNotFound(ns, name)
	}
	if !withCode || !m.hasCode {
		return cloneAction(m.a), nil
	}
	return s.readAction(ns, name, m.path)
}

func actionNotFound(ns, name string) error {
	return fmt.Errorf("%w: action %q in namespace %q", ErrNotFound, name, ns)
}

func checkKey(ns, name string) error {
	if err := checkName("namespace", ns); err != nil {
		return err
	}
	return checkName("action name", name)
}

// readAction reads an action with its code from its file, which holds one
// consistent version of it (maybe newer than the metadata in memory).
func (s *Store) readAction(ns, name, path string) (whisk.Action, error) {
	m, _, err := readActionFile(s.fs, path, true)
	if errors.Is(err, fs.ErrNotExist) {
		return whisk.Action{}, actionNotFound(ns, name)
	}
	if err != nil {
		return whisk.Action{}, readError(fmt.Sprintf("read action %s/%s", ns, name), err)
	}
	return m.Action, nil
}

// readError wraps an I/O error; damage is reported as it is.
func readError(doing string, err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return err
	}
	return ioError(doing, err)
}

// UpdateAction changes action name of namespace ns under the store's lock
// for that action: fn gets the current action with its code (nil if there
// is none; fn may change and return it) and returns the new one, which is
// written durably (temp file, fsync, rename, fsync of the directory) before
// UpdateAction returns it. If fn fails, nothing is written and its error is
// returned as is. If fn returns nil, nil, nothing changes and UpdateAction
// returns the current action (the zero Action if none). fn must not change
// or delete the same action through the store.
func (s *Store) UpdateAction(ns, name string, fn func(cur *whisk.Action) (*whisk.Action, error)) (whisk.Action, error) {
	if err := checkKey(ns, name); err != nil {
		return whisk.Action{}, err
	}
	if !s.enter() {
		return whisk.Action{}, fmt.Errorf("%w: update action %s/%s", ErrClosed, ns, name)
	}
	defer s.leave()
	unlock := s.alocks.lock(actionKey{ns, name})
	defer unlock()
	cur, err := s.current(ns, name)
	if err != nil {
		return whisk.Action{}, err
	}
	next, err := fn(cur)
	if err != nil {
		return whisk.Action{}, err
	}
	if next == nil {
		if cur == nil {
			return whisk.Action{}, nil
		}
		return *cur, nil
	}
	if _, err := s.nsDir(ns); err != nil {
		return whisk.Action{}, err
	}
	m, err := s.writeActionFile(ns, name, s.actionPath(ns, name), next)
	if m != nil {
		s.amu.Lock()
		if s.actions[ns] == nil {
			s.actions[ns] = map[string]*actionMeta{}
		}
		s.actions[ns][name] = m
		s.amu.Unlock()
	}
	if err != nil {
		return whisk.Action{}, err
	}
	return *next, nil
}

// current returns the action with its code, or nil; the caller holds the
// action's lock.
func (s *Store) current(ns, name string) (*whisk.Action, error) {
	s.amu.RLock()
	m := s.actions[ns][name]
	s.amu.RUnlock()
	if m == nil {
		return nil, nil
	}
	if !m.hasCode {
		a := cloneAction(m.a)
		return &a, nil
	}
	a, err := s.readAction(ns, name, m.path)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// DeleteAction deletes action name of namespace ns and returns it with its
// code (ErrNotFound if absent). An action whose code is damaged is deleted
// too, and returned without code.
func (s *Store) DeleteAction(ns, name string) (whisk.Action, error) {
	if err := checkKey(ns, name); err != nil {
		return whisk.Action{}, err
	}
	if !s.enter() {
		return whisk.Action{}, fmt.Errorf("%w: delete action %s/%s", ErrClosed, ns, name)
	}
	defer s.leave()
	unlock := s.alocks.lock(actionKey{ns, name})
	defer unlock()
	s.amu.RLock()
	m := s.actions[ns][name]
	s.amu.RUnlock()
	if m == nil {
		return whisk.Action{}, actionNotFound(ns, name)
	}
	a := cloneAction(m.a)
	if m.hasCode {
		full, err := s.readAction(ns, name, m.path)
		switch {
		case errors.Is(err, ErrCorrupt):
			s.log.Warn("deleting a damaged action", "namespace", ns, "name", name, "err", err)
		case err != nil:
			return whisk.Action{}, err
		default:
			a = full
		}
	}
	if err := s.fs.Remove(m.path); err != nil {
		return whisk.Action{}, ioError(fmt.Sprintf("delete action %s/%s", ns, name), err)
	}
	// The file is gone, durably or not: so is the action.
	s.amu.Lock()
	delete(s.actions[ns], name)
	if len(s.actions[ns]) == 0 {
		delete(s.actions, ns)
	}
	s.amu.Unlock()
	if err := s.fs.SyncDir(filepath.Dir(m.path)); err != nil {
		return whisk.Action{}, ioError(fmt.Sprintf("delete action %s/%s", ns, name), err)
	}
	return a, nil
}

// ListActions returns the actions of ns without code, the most recently
// Updated first, then by name; skip drops that many first and limit keeps
// at most that many (0: all). The list is never nil.
func (s *Store) ListActions(ns string, skip, limit int) ([]whisk.Action, error) {
	if err := checkName("namespace", ns); err != nil {
		return nil, err
	}
	if skip < 0 || limit < 0 {
		return nil, fmt.Errorf("%w: skip %d and limit %d: want 0 or more", ErrInvalid, skip, limit)
	}
	if !s.enter() {
		return nil, fmt.Errorf("%w: list actions of %q", ErrClosed, ns)
	}
	defer s.leave()
	s.amu.RLock()
	ms := make([]*actionMeta, 0, len(s.actions[ns]))
	for _, m := range s.actions[ns] {
		ms = append(ms, m)
	}
	s.amu.RUnlock()
	slices.SortFunc(ms, func(a, b *actionMeta) int {
		if c := cmp.Compare(b.a.Updated, a.a.Updated); c != 0 {
			return c
		}
		return cmp.Compare(a.a.Name, b.a.Name)
	})
	ms = ms[min(skip, len(ms)):]
	if limit > 0 && len(ms) > limit {
		ms = ms[:limit]
	}
	out := make([]whisk.Action, len(ms))
	for i, m := range ms {
		out[i] = cloneAction(m.a)
	}
	return out, nil
}

// Namespaces returns the namespaces that have actions, sorted.
func (s *Store) Namespaces() []string {
	s.amu.RLock()
	defer s.amu.RUnlock()
	out := make([]string, 0, len(s.actions))
	for ns := range s.actions {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// cloneAction copies a deeply enough that the copy shares nothing mutable
// with a.
func cloneAction(a whisk.Action) whisk.Action {
	if a.Exec != nil {
		e := *a.Exec
		if e.Code != nil {
			c := *e.Code
			e.Code = &c
		}
		if e.Binary != nil {
			b := *e.Binary
			e.Binary = &b
		}
		e.Components = slices.Clone(e.Components)
		a.Exec = &e
	}
	a.Annotations = cloneKV(a.Annotations)
	a.Parameters = cloneKV(a.Parameters)
	if a.Limits != nil {
		l := *a.Limits
		l.Timeout, l.Memory, l.Logs, l.Concurrency = cloneInt(l.Timeout), cloneInt(l.Memory), cloneInt(l.Logs), cloneInt(l.Concurrency)
		a.Limits = &l
	}
	a.DelAnnotations = slices.Clone(a.DelAnnotations)
	return a
}

func cloneKV(kv whisk.KeyValues) whisk.KeyValues {
	if kv == nil {
		return nil
	}
	out := make(whisk.KeyValues, len(kv))
	for i, p := range kv {
		out[i] = whisk.KeyValue{Key: p.Key, Value: json.RawMessage(slices.Clone([]byte(p.Value)))}
	}
	return out
}

func cloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// actionKey names an action.
type actionKey struct{ ns, name string }

// lockTable holds one mutex per action being changed.
type lockTable struct {
	mu sync.Mutex
	m  map[actionKey]*keyLock // under mu
}

type keyLock struct {
	sync.Mutex
	refs int // under lockTable.mu
}

// lock locks k and returns its unlock.
func (t *lockTable) lock(k actionKey) func() {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[actionKey]*keyLock{}
	}
	l := t.m[k]
	if l == nil {
		l = &keyLock{}
		t.m[k] = l
	}
	l.refs++
	t.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		t.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(t.m, k)
		}
		t.mu.Unlock()
	}
}
