package volume

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Filters are `docker volume ls/prune --filter` values by key.
type Filters map[string][]string

// List returns the volumes matching f, sorted by name. Filters (Docker's):
// name=SUBSTR|REGEXP, label=KEY[=VALUE] (all must match), label!=KEY[=VALUE]
// (none may match), driver=local, dangling=true|false (no users / some
// users, per users).
func (s *Store) List(f Filters, users Users) ([]*Volume, error) {
	if err := f.check("name", "label", "label!", "driver", "dangling"); err != nil {
		return nil, err
	}
	dangling, hasDangling, err := f.boolValue("dangling")
	if err != nil {
		return nil, err
	}
	all, err := s.all()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, v := range all {
		if len(f["name"]) > 0 && !matchAny(f["name"], v.Name) {
			continue
		}
		if len(f["driver"]) > 0 && !matchAny(f["driver"], v.Driver) {
			continue
		}
		if !f.labelsMatch(v.Labels) {
			continue
		}
		if hasDangling && dangling != (len(users[v.Name]) == 0) {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// all reads every volume; ones removed while we read are skipped.
func (s *Store) all() ([]*Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list volumes in %s: %w", s.dir, err)
	}
	var out []*Volume
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || validateName(name) != nil {
			continue // .locks, .tmp-*, .trash-*
		}
		v, err := s.read(name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list volumes: %s: %w", name, err)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f Filters) check(valid ...string) error {
	for k := range f {
		ok := false
		for _, v := range valid {
			ok = ok || k == v
		}
		if !ok {
			return fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return nil
}

// boolValue reads a true|1|false|0 filter such as dangling or all.
func (f Filters) boolValue(key string) (val, set bool, err error) {
	for _, v := range f[key] {
		switch strings.ToLower(v) {
		case "true", "1":
			val, set = true, true
		case "false", "0":
			set = true
		default:
			return false, false, fmt.Errorf("invalid filter '%s=%s'", key, v)
		}
	}
	return val, set, nil
}

func (f Filters) labelsMatch(labels map[string]string) bool {
	for _, want := range f["label"] {
		if !hasLabel(labels, want) {
			return false
		}
	}
	for _, not := range f["label!"] {
		if hasLabel(labels, not) {
			return false
		}
	}
	return true
}

func hasLabel(labels map[string]string, spec string) bool {
	k, v, withValue := strings.Cut(spec, "=")
	got, ok := labels[k]
	return ok && (!withValue || got == v)
}

// matchAny is Docker's filters Match: an exact value or an unanchored
// regular expression; invalid expressions match nothing.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if p == s {
			return true
		}
		if ok, err := regexp.MatchString(p, s); err == nil && ok {
			return true
		}
	}
	return false
}
