package network

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
)

// GC tears down what crashed commands left: every container with a record
// or a libcni cache entry for which live returns false is detached, and
// every namespace under netns/ whose id live rejects is removed. live must
// return true for every container the engine knows, running or being set
// up (the engine records a container before it asks for its namespace).
// It returns the ids cleaned.
func (m *Manager) GC(ctx context.Context, live func(containerID string) bool) ([]string, error) {
	ids := map[string]bool{}
	recs, err := m.Attached()
	if err != nil {
		return nil, err
	}
	for _, id := range recs {
		ids[id] = true
	}
	if cached, err := m.cniConfig().GetCachedAttachments(""); err == nil {
		for _, a := range cached {
			ids[a.ContainerID] = true
		}
	}
	if ents, err := os.ReadDir(m.netnsDir()); err == nil {
		for _, e := range ents {
			ids[e.Name()] = true
		}
	}
	var cleaned []string
	var errs []error
	for id := range ids {
		if live(id) {
			continue
		}
		if err := m.Detach(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := RemoveNetNS(filepath.Join(m.netnsDir(), id)); err != nil {
			errs = append(errs, err)
			continue
		}
		cleaned = append(cleaned, id)
	}
	sort.Strings(cleaned)
	return cleaned, errors.Join(errs...)
}
