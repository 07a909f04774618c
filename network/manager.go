package network

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
	"golang.org/x/sys/unix"
)

// DefaultRoot is berth's default persistent root (see Manager's chains).
const DefaultRoot = "/var/lib/berth"

// DefaultPluginPath is where CNI plugins are looked for: Debian's
// containernetworking-plugins, then the CNI project's conventional place.
var DefaultPluginPath = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Manager owns berth's networks and their attachments. It keeps no state in
// memory that is not on disk: any number of Managers (in any number of
// processes) may work on the same root and runroot at once.
type Manager struct {
	root, runroot string
	// PluginPath is searched for CNI plugin binaries, in order.
	PluginPath []string
	// DefaultBridge and DefaultSubnet shape the default network when it
	// is first created: berth0 and 10.98.0.0/16 for /var/lib/berth; for
	// any other root (tests), a bridge named after a hash of the root and
	// ("" here) a free /24 of 10.97.0.0/16, so roots never share a bridge.
	// Set them right after New to choose.
	DefaultBridge, DefaultSubnet string
	exec                         invoke.Exec
	// chain names of this root's firewall rules: BERTH-FORWARD and
	// BERTH-POSTROUTING for the default root, suffixed with a hash of the
	// root for any other, so roots never rebuild each other's rules.
	forwardChain, natChain string
}

// New opens the network state under root (persistent) and runroot (runtime).
// When the machine rebooted since runroot was last used, it first drops the
// runtime state of the previous boot: leases, namespaces, caches, records.
func New(root, runroot string) (*Manager, error) {
	if root == "" || runroot == "" {
		return nil, errors.New("network: root and runroot must be set")
	}
	m := &Manager{root: root, runroot: runroot, PluginPath: DefaultPluginPath,
		DefaultBridge: DefaultBridge, DefaultSubnet: DefaultSubnet}
	m.forwardChain, m.natChain = "BERTH-FORWARD", "BERTH-POSTROUTING"
	if abs, _ := filepath.Abs(root); abs != DefaultRoot {
		sum := sha256.Sum256([]byte(abs))
		sfx := "-" + hex.EncodeToString(sum[:3])
		m.forwardChain += sfx
		m.natChain += sfx
		m.DefaultBridge, m.DefaultSubnet = "bt"+hex.EncodeToString(sum[:4]), ""
	}
	for _, d := range []string{m.networksDir(), m.endpointsDir(), m.hostsDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("network state: %w", err)
		}
	}
	if err := m.checkBoot(); err != nil {
		return nil, err
	}
	// An explicit Exec: libcni would otherwise set one lazily in a shared
	// CNIConfig, a data race between concurrent attaches.
	m.exec = &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}}
	return m, nil
}

func (m *Manager) networksDir() string  { return filepath.Join(m.root, "networks") }
func (m *Manager) stateDir() string     { return filepath.Join(m.runroot, "network") }
func (m *Manager) endpointsDir() string { return filepath.Join(m.stateDir(), "endpoints") }
func (m *Manager) hostsDir() string     { return filepath.Join(m.stateDir(), "hosts") }
func (m *Manager) netnsDir() string     { return filepath.Join(m.runroot, "netns") }
func (m *Manager) cacheDir() string     { return filepath.Join(m.runroot, "cni") }
func (m *Manager) ipamDir() string      { return filepath.Join(m.runroot, "ipam") }
func (m *Manager) lockPath() string     { return filepath.Join(m.stateDir(), "lock") }
func (m *Manager) firewallMark() string { return filepath.Join(m.stateDir(), "firewall") }

// cniConfig is libcni with the current plugin path (a small struct: one
// per call keeps concurrent calls apart).
func (m *Manager) cniConfig() *libcni.CNIConfig {
	return libcni.NewCNIConfigWithCacheDir(m.PluginPath, m.cacheDir(), m.exec)
}

// checkBoot compares the boot id recorded under runroot with the kernel's
// and, on a change, drops what the previous boot left: nothing of it is
// live any more (no namespace, veth or iptables rule survives a reboot),
// but leases and records would otherwise block addresses and names.
func (m *Manager) checkBoot() error {
	cur, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return fmt.Errorf("read boot id: %w", err)
	}
	cur = bytes.TrimSpace(cur)
	p := filepath.Join(m.stateDir(), "boot_id")
	old, err := os.ReadFile(p)
	if err == nil && bytes.Equal(bytes.TrimSpace(old), cur) {
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", p, err)
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// Re-check under the lock: another command may have just done it.
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(bytes.TrimSpace(old), cur) {
		return nil
	}
	if err := m.dropRuntimeState(); err != nil {
		return fmt.Errorf("drop state of the previous boot: %w", err)
	}
	if err := writeFileAtomic(p, append(cur, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

func (m *Manager) dropRuntimeState() error {
	if ents, err := os.ReadDir(m.netnsDir()); err == nil {
		for _, e := range ents {
			p := filepath.Join(m.netnsDir(), e.Name())
			unix.Unmount(p, unix.MNT_DETACH) // not mounted after a reboot; harmless
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	for _, d := range []string{m.cacheDir(), m.ipamDir(), m.endpointsDir(), m.hostsDir()} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err := os.Remove(m.firewallMark()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, d := range []string{m.endpointsDir(), m.hostsDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// lock takes the exclusive lock over records, hosts files, port choices and
// network creation. It is held for file work and iptables rebuilds, never
// while plugins run.
func (m *Manager) lock() (func(), error) {
	f, err := os.OpenFile(m.lockPath(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("network lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("network lock %s: %w", m.lockPath(), err)
	}
	return func() { f.Close() }, nil
}

// writeFileAtomic replaces p with data: readers see the old or the new file.
func writeFileAtomic(p string, data []byte, perm os.FileMode) error {
	tmp := fmt.Sprintf("%s.%d.tmp", p, os.Getpid())
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeInPlace rewrites p's content keeping its inode, so bind mounts of it
// see the change: one write of the whole content, padded with empty lines
// to the old length, then a truncate, so a reader never sees an empty file
// or a piece of an old line.
func writeInPlace(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	buf := data
	if fi, err := f.Stat(); err == nil && fi.Size() > int64(len(data)) {
		buf = append(append([]byte(nil), data...), bytes.Repeat([]byte{'\n'}, int(fi.Size())-len(data))...)
	}
	if _, err := f.WriteAt(buf, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
