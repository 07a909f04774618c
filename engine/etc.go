package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hostname is the container's hostname: the flag, else the short id.
func hostname(c *Container) string {
	if c.Config.Hostname != "" {
		return c.Config.Hostname
	}
	return c.ID[:12]
}

// writeEtcFiles writes the hostname, hosts and resolv.conf files that the
// spec bind-mounts into the container (Docker keeps them beside the record).
// They are rewritten in place, never renamed: a running container sees the
// inode it was given.
func (e *Engine) writeEtcFiles(c *Container) error {
	dir := e.containerDir(c.ID)
	hn := hostname(c)
	if c.HostConfig.NetworkMode == "host" {
		if h, err := os.Hostname(); err == nil && c.Config.Hostname == "" {
			hn = h
		}
	}
	if err := writeInPlace(filepath.Join(dir, "hostname"), []byte(hn+"\n")); err != nil {
		return err
	}
	var hosts bytes.Buffer
	if c.HostConfig.NetworkMode == "host" {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts.Write(b)
		}
	} else {
		hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	}
	for _, h := range c.HostConfig.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			name, ip, _ = strings.Cut(h, "=")
		}
		if ip == "host-gateway" {
			ip = e.hostGateway(c)
		}
		fmt.Fprintf(&hosts, "%s\t%s\n", ip, name)
	}
	if c.Network != nil {
		for _, ep := range c.Network.Networks {
			if ep.IPAddress != "" {
				fmt.Fprintf(&hosts, "%s\t%s\n", ep.IPAddress, hn)
			}
		}
	}
	if err := writeInPlace(filepath.Join(dir, "hosts"), hosts.Bytes()); err != nil {
		return err
	}
	return e.writeResolvConf(c, filepath.Join(dir, "resolv.conf"))
}

func writeInPlace(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
