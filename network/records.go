package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// record is what berth knows of one container's attachments. It is written
// before any plugin runs (with the exact chains), so Detach can undo a
// half-done Attach after a crash; results are filled in afterwards.
type record struct {
	ContainerID   string        `json:"id"`
	ContainerName string        `json:"name,omitempty"`
	Hostname      string        `json:"hostname,omitempty"`
	NetNS         string        `json:"netns"`
	ExtraHosts    []string      `json:"extraHosts,omitempty"`
	Endpoints     []*endpoint   `json:"endpoints"`
	Ports         []PortMapping `json:"ports,omitempty"`
}

type endpoint struct {
	Network   string          `json:"network"`
	NetworkID string          `json:"networkId"`
	IfName    string          `json:"ifName"`
	Aliases   []string        `json:"aliases,omitempty"`
	Default   bool            `json:"default,omitempty"`
	Conf      json.RawMessage `json:"conf"`
	Args      [][2]string     `json:"args,omitempty"`
	Caps      map[string]any  `json:"caps,omitempty"`
	// Filled in when ADD succeeded.
	Done    bool     `json:"done,omitempty"`
	IPs     []string `json:"ips,omitempty"` // CIDR
	Gateway string   `json:"gateway,omitempty"`
	MAC     string   `json:"mac,omitempty"`
}

func (r *record) name() string {
	if n := strings.TrimPrefix(r.ContainerName, "/"); n != "" {
		return n
	}
	return shortID(r.ContainerID)
}

func (r *record) endpoint(network string) *endpoint {
	for _, e := range r.Endpoints {
		if e.Network == network {
			return e
		}
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (m *Manager) recordPath(id string) string {
	return filepath.Join(m.endpointsDir(), id+".json")
}

// HostsFile is the path of the container's hosts file, kept by Attach,
// Connect and Disconnect (and by peers joining or leaving its networks).
// Bind-mount it at /etc/hosts; Detach removes it.
func (m *Manager) HostsFile(containerID string) string {
	return filepath.Join(m.hostsDir(), containerID)
}

func (m *Manager) readRecord(id string) (*record, error) {
	b, err := os.ReadFile(m.recordPath(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("network record of %s: %w", id, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("network record %s: %w", m.recordPath(id), err)
	}
	return &r, nil
}

func (m *Manager) writeRecord(r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(m.recordPath(r.ContainerID), b, 0o600); err != nil {
		return fmt.Errorf("write network record of %s: %w", r.ContainerID, err)
	}
	return nil
}

// allRecords reads every record (unreadable ones are skipped).
func (m *Manager) allRecords() ([]*record, error) {
	ents, err := os.ReadDir(m.endpointsDir())
	if err != nil {
		return nil, fmt.Errorf("network records: %w", err)
	}
	var out []*record
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if r, err := m.readRecord(id); err == nil && r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Attached lists the ids of the containers with network records (attached,
// or left half-attached by a crash): what a garbage collector compares with
// the live containers before calling Detach.
func (m *Manager) Attached() ([]string, error) {
	rs, err := m.allRecords()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.ContainerID)
	}
	return ids, nil
}
