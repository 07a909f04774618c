package network

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// syncFirewall rebuilds berth's chains from the networks on disk in one
// iptables-restore (atomic, one process), then makes sure the built-in
// chains jump to them. Caller holds the lock.
func (m *Manager) syncFirewall(ctx context.Context) error {
	forwardChain, natChain := m.forwardChain, m.natChain
	nets, err := m.listNetworks()
	if err != nil {
		return err
	}
	var bridges []*Network
	for _, n := range nets {
		if n.Driver == "bridge" && n.Interface != "" && !n.Foreign {
			bridges = append(bridges, n)
		}
	}
	var f, nat bytes.Buffer
	for _, n := range bridges {
		br := n.Interface
		c := fmt.Sprintf("-m comment --comment %q", "berth:"+n.Name)
		fmt.Fprintf(&f, "-A %s -i %s -o %s %s -j ACCEPT\n", forwardChain, br, br, c)
		if n.Internal {
			fmt.Fprintf(&f, "-A %s -i %s %s -j DROP\n", forwardChain, br, c)
			fmt.Fprintf(&f, "-A %s -o %s %s -j DROP\n", forwardChain, br, c)
			continue
		}
		// Networks are isolated from each other, like Docker's.
		for _, o := range bridges {
			if o != n {
				fmt.Fprintf(&f, "-A %s -i %s -o %s %s -j DROP\n", forwardChain, br, o.Interface, c)
			}
		}
		fmt.Fprintf(&f, "-A %s -i %s %s -j ACCEPT\n", forwardChain, br, c)
		// Replies, and new connections to published ports (DNAT by portmap).
		fmt.Fprintf(&f, "-A %s -o %s -m conntrack --ctstate RELATED,ESTABLISHED,DNAT %s -j ACCEPT\n", forwardChain, br, c)
		for _, s := range n.Subnets {
			fmt.Fprintf(&nat, "-A %s -s %s ! -o %s %s -j MASQUERADE\n", natChain, s.Subnet, br, c)
		}
	}
	in := fmt.Sprintf("*filter\n:%s - [0:0]\n-F %s\n%sCOMMIT\n*nat\n:%s - [0:0]\n-F %s\n%sCOMMIT\n",
		forwardChain, forwardChain, f.String(), natChain, natChain, nat.String())
	if err := iptables(ctx, in, "iptables-restore", "-w", "--noflush"); err != nil {
		return fmt.Errorf("firewall rules: %w", err)
	}
	for _, j := range [][]string{{"filter", "FORWARD", forwardChain}, {"nat", "POSTROUTING", natChain}} {
		if iptables(ctx, "", "iptables", "-w", "-t", j[0], "-C", j[1], "-j", j[2]) == nil {
			continue
		}
		if err := iptables(ctx, "", "iptables", "-w", "-t", j[0], "-I", j[1], "1", "-j", j[2]); err != nil {
			return fmt.Errorf("firewall jump %s -> %s: %w", j[1], j[2], err)
		}
	}
	return os.WriteFile(m.firewallMark(), nil, 0o600)
}

// ensureFirewall rebuilds the rules once per boot (they vanish with a
// reboot; the marker under runroot goes with it).
func (m *Manager) ensureFirewall(ctx context.Context) error {
	if _, err := os.Stat(m.firewallMark()); err == nil {
		return nil
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(m.firewallMark()); err == nil {
		return nil
	}
	return m.syncFirewall(ctx)
}

// SyncFirewall rebuilds berth's iptables rules, e.g. after something
// flushed the host's tables.
func (m *Manager) SyncFirewall(ctx context.Context) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.syncFirewall(ctx)
}

func iptables(ctx context.Context, stdin, name string, args ...string) error {
	bin, err := exec.LookPath(name)
	if err != nil {
		bin = "/usr/sbin/" + name // a PATH without sbin (sudo -E, cron)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
