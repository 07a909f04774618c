package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NewNetNS creates a network namespace for container id, held by a bind
// mount at <runroot>/netns/<id>, with the loopback up (so no loopback
// plugin run is needed). It returns the path.
func (m *Manager) NewNetNS(id string) (string, error) {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return "", fmt.Errorf("netns: bad container id %q", id)
	}
	p := filepath.Join(m.netnsDir(), id)
	if err := os.MkdirAll(m.netnsDir(), 0o700); err != nil {
		return "", fmt.Errorf("netns: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return "", fmt.Errorf("netns %s: %w", p, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread that unshares never goes back to Go's scheduler: it
		// stays in the new namespace and exits with this goroutine.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), p, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %w", p, err)
			}
			lo, err := netlink.LinkByName("lo")
			if err == nil {
				err = netlink.LinkSetUp(lo)
			}
			if err != nil {
				return fmt.Errorf("loopback up: %w", err)
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		unix.Unmount(p, unix.MNT_DETACH)
		os.Remove(p)
		return "", fmt.Errorf("netns %s: %w", p, err)
	}
	return p, nil
}

// RemoveNetNS unmounts and removes a namespace made by NewNetNS. The
// namespace itself goes away with its last user. Idempotent.
func (m *Manager) RemoveNetNS(p string) error {
	return RemoveNetNS(p)
}

// RemoveNetNS unmounts and removes the namespace file p. Idempotent.
func RemoveNetNS(p string) error {
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// NetNSDir is where NewNetNS puts namespaces.
func (m *Manager) NetNSDir() string { return m.netnsDir() }
