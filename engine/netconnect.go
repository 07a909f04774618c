package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/network"
)

// Connect puts a container on one more network: at once when it runs,
// and at every later start (the request is kept in its record).
func (e *Engine) Connect(ctx context.Context, ref string, req NetworkRequest) error {
	return e.withLocked(ctx, ref, func(c *Container) error {
		if !isNetworked(c) {
			return fmt.Errorf("container %s uses --network %s: it cannot join networks", c.Name, c.HostConfig.NetworkMode)
		}
		m, err := e.networks()
		if err != nil {
			return err
		}
		n, err := m.Get(ctx, req.Name)
		if err != nil {
			return err
		}
		req.Name = n.Name
		if len(c.NetworkRequests) == 0 {
			// Only the default was implied: make it explicit before adding.
			c.NetworkRequests = []NetworkRequest{{Name: c.HostConfig.NetworkMode}}
		}
		for _, r := range c.NetworkRequests {
			if r.Name == req.Name || (isDefaultNet(r.Name) && isDefaultNet(req.Name)) {
				return fmt.Errorf("container %s is already attached to network %s", c.Name, req.Name)
			}
		}
		if c.State.Running() && c.Network != nil && c.Network.Attached {
			res, err := m.Connect(ctx, c.ID, network.Endpoint{Network: req.Name, IP: req.IP, MAC: req.MAC, Aliases: req.Aliases})
			if err != nil {
				return err
			}
			if c.Network.Networks == nil {
				c.Network.Networks = map[string]Endpoint{}
			}
			c.Network.Networks[res.Network] = Endpoint{IPAddress: res.IP, PrefixLen: res.PrefixLen, Gateway: res.Gateway, MacAddress: res.MAC, Aliases: res.Aliases, NetworkID: res.NetworkID, Interface: res.Interface}
		}
		c.NetworkRequests = append(c.NetworkRequests, req)
		if err := e.save(c); err != nil {
			return err
		}
		e.emit("network", "connect", c, map[string]string{"network": req.Name})
		return nil
	})
}

// Disconnect takes a container off a network, now and for later starts.
func (e *Engine) Disconnect(ctx context.Context, ref, name string) error {
	return e.withLocked(ctx, ref, func(c *Container) error {
		reqs := c.NetworkRequests
		if len(reqs) == 0 && isNetworked(c) {
			reqs = []NetworkRequest{{Name: c.HostConfig.NetworkMode}}
		}
		m, err := e.networks()
		if err != nil {
			return err
		}
		want := name
		if n, err := m.Get(ctx, name); err == nil {
			want = n.Name
		}
		var kept []NetworkRequest
		found := false
		for _, r := range reqs {
			if r.Name == want || r.Name == name || (isDefaultNet(r.Name) && isDefaultNet(want)) {
				found = true
				continue
			}
			kept = append(kept, r)
		}
		if !found {
			return fmt.Errorf("container %s is not connected to network %s", c.Name, name)
		}
		if c.State.Running() && c.Network != nil && c.Network.Attached {
			if err := m.Disconnect(ctx, c.ID, want); err != nil {
				return err
			}
			for k := range c.Network.Networks {
				if k == want || isDefaultNet(k) && isDefaultNet(want) {
					delete(c.Network.Networks, k)
				}
			}
		}
		c.NetworkRequests = kept
		if len(kept) == 0 {
			c.HostConfig.NetworkMode = "none"
		} else {
			c.HostConfig.NetworkMode = kept[0].Name
		}
		if err := e.save(c); err != nil {
			return err
		}
		e.emit("network", "disconnect", c, map[string]string{"network": want})
		return nil
	})
}

func isDefaultNet(n string) bool {
	return n == "" || n == "bridge" || n == "berth" || strings.EqualFold(n, "default")
}
