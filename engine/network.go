package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func (e *Engine) netnsDir() string { return filepath.Join(e.runroot, "netns") }

// setupNetwork gives the container its network namespace before the
// monitor creates it: "host" shares the host's; everything else gets a
// namespace of its own, bind-mounted under runroot so that teardown
// finds it after a crash, with the loopback up.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) error {
	mode := c.HostConfig.NetworkMode
	if mode == "host" {
		return nil
	}
	if strings.HasPrefix(mode, "container:") {
		other, err := e.Get(ctx, strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return fmt.Errorf("--network %s: %w", mode, err)
		}
		if !other.State.Running() || other.State.Pid == 0 {
			return fmt.Errorf("--network %s: container %s is not running", mode, other.Name)
		}
		c.Network = &NetworkState{NetNS: fmt.Sprintf("/proc/%d/ns/net", other.State.Pid)}
		return e.save(c)
	}
	p := filepath.Join(e.netnsDir(), c.ID)
	c.Network = &NetworkState{NetNS: p}
	// Recorded before it exists, so that a crash in between is torn down.
	if err := e.save(c); err != nil {
		return err
	}
	if err := newNetNS(p); err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	return nil
}

// teardownNetwork undoes setupNetwork. Idempotent.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) error {
	if c.Network == nil {
		return nil
	}
	if p := c.Network.NetNS; strings.HasPrefix(p, e.netnsDir()+"/") {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	c.Network = nil
	return nil
}

// newNetNS creates a network namespace held by a bind mount at p, with lo up.
func newNetNS(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread that unshares is never given back to Go's scheduler:
		// it stays in the new namespace and dies with this goroutine.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), p, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %w", p, err)
			}
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				return fmt.Errorf("loopback: %w", err)
			}
			if err := netlink.LinkSetUp(lo); err != nil {
				return fmt.Errorf("loopback up: %w", err)
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		unix.Unmount(p, unix.MNT_DETACH)
		os.Remove(p)
		return err
	}
	return nil
}

// hostGateway is the address --add-host NAME:host-gateway resolves to.
func (e *Engine) hostGateway(c *Container) string {
	if c.Network != nil {
		for _, ep := range c.Network.Networks {
			if ep.Gateway != "" {
				return ep.Gateway
			}
		}
	}
	return "127.0.0.1"
}

// writeResolvConf follows Docker: the host's resolv.conf without loopback
// name servers (they do not answer inside the container's namespace),
// Google's when none remain, --dns/--dns-search overriding.
func (e *Engine) writeResolvConf(c *Container, dst string) error {
	host, _ := os.ReadFile("/etc/resolv.conf")
	var servers, search, options []string
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if ip := net.ParseIP(f[1]); ip != nil && (!ip.IsLoopback() || c.HostConfig.NetworkMode == "host") {
				servers = append(servers, f[1])
			}
		case "search", "domain":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if len(c.HostConfig.Dns) > 0 {
		servers = c.HostConfig.Dns
	}
	if len(c.HostConfig.DnsSearch) > 0 {
		search = c.HostConfig.DnsSearch
	}
	if len(servers) == 0 {
		servers = []string{"8.8.8.8", "8.8.4.4"}
	}
	var b bytes.Buffer
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 && !(len(search) == 1 && search[0] == ".") {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return writeInPlace(dst, b.Bytes())
}
