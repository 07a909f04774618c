package specgen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var errNotDevice = errors.New("not a device node")

// ParseDevice parses a --device value, "host[:container][:perms]" (Docker's
// parseLinuxDevice); perms are some of "rwm" and default to all three.
func ParseDevice(v string) (Device, error) {
	d := Device{CgroupPermissions: "rwm"}
	arr := strings.SplitN(v, ":", 4)
	switch len(arr) {
	case 3:
		d.CgroupPermissions = arr[2]
		if !validDeviceMode(arr[2]) {
			return Device{}, fmt.Errorf("invalid device specification %q: bad cgroup permissions %q (want some of rwm)", v, arr[2])
		}
		d.PathInContainer = arr[1]
	case 2:
		if validDeviceMode(arr[1]) {
			d.CgroupPermissions = arr[1]
		} else {
			d.PathInContainer = arr[1]
		}
	case 1:
	default:
		return Device{}, fmt.Errorf("invalid device specification %q", v)
	}
	d.PathOnHost = arr[0]
	if d.PathOnHost == "" {
		return Device{}, fmt.Errorf("invalid device specification %q: empty host path", v)
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !path.IsAbs(d.PathInContainer) {
		return Device{}, fmt.Errorf("invalid device specification %q: %s is not an absolute path", v, d.PathInContainer)
	}
	return d, nil
}

func validDeviceMode(m string) bool {
	if m == "" || len(m) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range m {
		if !strings.ContainsRune("rwm", c) || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// deviceFromPath is containerd's DeviceFromPath: the node's type, numbers,
// mode and owner (lstat: a symlink is not a device).
func deviceFromPath(p string) (*specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	var t string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		t = "b"
	case unix.S_IFCHR:
		t = "c"
	case unix.S_IFIFO:
		t = "p"
	default:
		return nil, errNotDevice
	}
	fm := os.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	return &specs.LinuxDevice{
		Type: t, Path: p,
		Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: &fm, UID: &uid, GID: &gid,
	}, nil
}

// resolveDevicePath follows symlinks only when they stay under /dev (like
// /dev/disk/by-id/*), so --device cannot be aimed at an arbitrary file.
func resolveDevicePath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil && (r == "/dev" || strings.HasPrefix(r, "/dev/")) {
		return r
	}
	return p
}

// devicesFromPath is moby's DevicesFromPath: one node, or every node under
// a directory, each with its cgroup allow rule.
func devicesFromPath(d Device) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	host := resolveDevicePath(d.PathOnHost)
	rule := func(dev *specs.LinuxDevice) specs.LinuxDeviceCgroup {
		major, minor := dev.Major, dev.Minor
		return specs.LinuxDeviceCgroup{Allow: true, Type: dev.Type, Major: &major, Minor: &minor, Access: d.CgroupPermissions}
	}
	dev, err := deviceFromPath(host)
	if err == nil {
		dev.Path = d.PathInContainer
		if dev.Type == "p" { // a fifo: a node to create, nothing for the device cgroup
			return []specs.LinuxDevice{*dev}, nil, nil
		}
		return []specs.LinuxDevice{*dev}, []specs.LinuxDeviceCgroup{rule(dev)}, nil
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	if errors.Is(err, errNotDevice) {
		if fi, e := os.Stat(host); e == nil && fi.IsDir() {
			filepath.WalkDir(host, func(p string, _ fs.DirEntry, _ error) error {
				c, e := deviceFromPath(resolveDevicePath(p))
				if e != nil {
					return nil
				}
				c.Path = strings.Replace(p, host, d.PathInContainer, 1)
				devs = append(devs, *c)
				if c.Type != "p" {
					rules = append(rules, rule(c))
				}
				return nil
			})
		}
	}
	if len(devs) > 0 {
		return devs, rules, nil
	}
	return nil, nil, fmt.Errorf("error gathering device information while adding custom device %q: %w", d.PathOnHost, err)
}

// hostDevices is containerd's HostDevices: every block and character node
// under /dev except the pts, shm, mqueue and fd trees and the console.
func hostDevices() ([]specs.LinuxDevice, error) {
	return walkHostDevices("/dev")
}

func walkHostDevices(dir string) ([]specs.LinuxDevice, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list host devices in %s: %w", dir, err)
	}
	var out []specs.LinuxDevice
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				continue
			}
			sub, err := walkHostDevices(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case e.Name() == "console":
		default:
			d, err := deviceFromPath(p)
			if err != nil {
				if errors.Is(err, errNotDevice) || errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, err
			}
			if d.Type == "p" {
				continue
			}
			out = append(out, *d)
		}
	}
	return out, nil
}

var cgroupRuleRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)
})

// parseCgroupRule parses a --device-cgroup-rule ("c 1:3 rwm", "a *:* m").
func parseCgroupRule(r string) (specs.LinuxDeviceCgroup, error) {
	m := cgroupRuleRE().FindStringSubmatch(r)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, fmt.Errorf("invalid device cgroup rule format: %q", r)
	}
	num := func(s string) (*int64, error) {
		if s == "*" {
			v := int64(-1)
			return &v, nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid device cgroup rule %q: %w", r, err)
		}
		return &v, nil
	}
	major, err := num(m[2])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	minor, err := num(m[3])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: major, Minor: minor, Access: m[4]}, nil
}

// applyDevices is dockerd's WithDevices.
func applyDevices(o *Options, s *specs.Spec) error {
	rules := s.Linux.Resources.Devices
	var devs []specs.LinuxDevice
	if o.Privileged {
		hd, err := hostDevices()
		if err != nil {
			return err
		}
		devs = append(devs, hd...)
		for _, d := range o.Devices {
			if path.Clean(d.PathOnHost) == path.Clean(d.PathInContainer) {
				continue // already there from the host's /dev
			}
			d.CgroupPermissions = "rwm"
			ds, _, err := devicesFromPath(d)
			if err != nil {
				return err
			}
			devs = append(devs, ds...)
		}
		rules = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		for _, d := range o.Devices {
			if d.CgroupPermissions == "" {
				d.CgroupPermissions = "rwm"
			}
			if !validDeviceMode(d.CgroupPermissions) {
				return fmt.Errorf("device %s: bad cgroup permissions %q (want some of rwm)", d.PathOnHost, d.CgroupPermissions)
			}
			if d.PathInContainer == "" {
				d.PathInContainer = d.PathOnHost
			}
			if !path.IsAbs(d.PathInContainer) {
				return fmt.Errorf("device %s: container path %q is not absolute", d.PathOnHost, d.PathInContainer)
			}
			ds, rs, err := devicesFromPath(d)
			if err != nil {
				return err
			}
			devs = append(devs, ds...)
			rules = append(rules, rs...)
		}
		for _, r := range o.DeviceCgroupRules {
			rule, err := parseCgroupRule(r)
			if err != nil {
				return err
			}
			rules = append(rules, rule)
		}
	}
	s.Linux.Devices = append(s.Linux.Devices, devs...)
	s.Linux.Resources.Devices = rules
	return nil
}
