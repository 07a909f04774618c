package network

import (
	"context"
	"fmt"
	"strings"
)

// FindAttached finds an attached container by id, id prefix or name (for
// `network connect/disconnect` without the engine). It returns the id.
func (m *Manager) FindAttached(ref string) (string, error) {
	recs, err := m.allRecords()
	if err != nil {
		return "", err
	}
	var found []string
	for _, r := range recs {
		if r.ContainerID == ref || r.name() == strings.TrimPrefix(ref, "/") {
			return r.ContainerID, nil
		}
		if len(ref) >= 3 && strings.HasPrefix(r.ContainerID, ref) {
			found = append(found, r.ContainerID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("no running container %q is attached to a network", ref)
	}
	return "", fmt.Errorf("container id prefix %q is ambiguous", ref)
}

// Connect attaches a running (attached) container to one more network, on
// the next free ethN, and updates the hosts files.
func (m *Manager) Connect(ctx context.Context, containerID string, ep Endpoint) (*NetworkResult, error) {
	n, err := m.resolve(ctx, ep.Network)
	if err != nil {
		return nil, err
	}
	if n.Driver == "bridge" {
		if err := m.ensureFirewall(ctx); err != nil {
			return nil, err
		}
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	r, err := m.readRecord(containerID)
	if err == nil && r == nil {
		err = fmt.Errorf("container %s is not running on any network (start it first)", shortID(containerID))
	}
	if err == nil && r.endpoint(n.Name) != nil {
		err = fmt.Errorf("container %s is already connected to network %s", r.name(), n.Name)
	}
	var e *endpoint
	if err == nil {
		e, err = m.newEndpoint(n, ep, nextIfName(r), false)
	}
	if err == nil {
		r.Endpoints = append(r.Endpoints, e)
		err = m.writeRecord(r)
	}
	unlock()
	if err != nil {
		return nil, err
	}
	if err := m.add(ctx, r, e); err != nil {
		return nil, m.undoConnect(ctx, r, e, err)
	}
	unlock, err = m.lock()
	if err != nil {
		return nil, m.undoConnect(ctx, r, e, err)
	}
	err = m.replaceEndpoint(r.ContainerID, e)
	unlock()
	if err != nil {
		return nil, m.undoConnect(ctx, r, e, err)
	}
	res := m.result(&record{Endpoints: []*endpoint{e}})
	return &res.Networks[0], nil
}

// replaceEndpoint stores e (by network) in the current record and rewrites
// hosts files; caller holds the lock.
func (m *Manager) replaceEndpoint(id string, e *endpoint) error {
	r, err := m.readRecord(id)
	if err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("container %s was detached meanwhile", shortID(id))
	}
	for i, x := range r.Endpoints {
		if x.Network == e.Network {
			r.Endpoints[i] = e
		}
	}
	if err := m.writeRecord(r); err != nil {
		return err
	}
	return m.updateHosts(r, nil)
}

func (m *Manager) undoConnect(ctx context.Context, r *record, e *endpoint, cause error) error {
	if err := m.Disconnect(ctx, r.ContainerID, e.Network); err != nil {
		return fmt.Errorf("%w (and rolling back: %v)", cause, err)
	}
	return cause
}

// Disconnect detaches a container from one network (DEL of its chain)
// and updates the hosts files. Disconnecting a network the container is
// not on is an error.
func (m *Manager) Disconnect(ctx context.Context, containerID, network string) error {
	name := network
	if n, err := m.resolve(ctx, network); err == nil {
		name = n.Name
	}
	r, err := m.readRecord(containerID)
	if err != nil {
		return err
	}
	if r == nil || r.endpoint(name) == nil {
		return fmt.Errorf("container %s is not connected to network %s", shortID(containerID), network)
	}
	e := r.endpoint(name)
	if err := m.del(ctx, r, e); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", r.name(), name, err)
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := m.readRecord(containerID)
	if err != nil || cur == nil {
		return err
	}
	gone := &record{ContainerID: cur.ContainerID, Endpoints: []*endpoint{e}}
	var keep []*endpoint
	for _, x := range cur.Endpoints {
		if x.Network != name {
			keep = append(keep, x)
		}
	}
	cur.Endpoints = keep
	if err := m.writeRecord(cur); err != nil {
		return err
	}
	if err := m.updateHosts(cur, nil); err != nil {
		return err
	}
	return m.updateHosts(nil, gone)
}

func nextIfName(r *record) string {
	for i := 0; ; i++ {
		name := fmt.Sprintf("eth%d", i)
		used := false
		for _, e := range r.Endpoints {
			if e.IfName == name {
				used = true
			}
		}
		if !used {
			return name
		}
	}
}
