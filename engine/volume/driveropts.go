package volume

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// mountOpts is a typed volume's mount, from the local driver's options
// type (filesystem), device (source) and o (comma list of mount options).
type mountOpts struct {
	fsType string
	device string
	flags  uintptr // MS_* without propagation
	prop   uintptr // MS_SHARED etc., applied by a second mount call
	data   string
}

func (m *mountOpts) needed() bool { return m != nil }

// parseDriverOpts validates local driver options like Docker's driver
// (valid keys type, o, device, size; type and o need device) and returns
// the mount to make, or nil for a plain directory volume.
func parseDriverOpts(opts map[string]string) (*mountOpts, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "type", "o", "device", "size":
		default:
			return nil, fmt.Errorf("invalid option: %q", k)
		}
	}
	if v, ok := opts["size"]; ok {
		size, err := units.RAMInBytes(v)
		if err != nil {
			return nil, err
		}
		if size > 0 {
			return nil, errors.New("quota size requested but no quota support")
		}
	}
	_, hasDevice := opts["device"]
	for _, k := range []string{"type", "o"} {
		if _, ok := opts[k]; ok && !hasDevice {
			return nil, fmt.Errorf("missing required option: %q", "device")
		}
	}
	if !hasDevice {
		return nil, nil
	}
	m := &mountOpts{fsType: opts["type"], device: opts["device"]}
	if m.device == "" {
		return nil, errors.New("missing device in volume options")
	}
	var data []string
	for o := range strings.SplitSeq(opts["o"], ",") {
		if o == "" {
			continue
		}
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				m.flags &^= f.flag
			} else {
				m.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			m.prop = p
			continue
		}
		data = append(data, o)
	}
	m.data = strings.Join(data, ",")
	return m, nil
}

type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountFlags are the mount(8) words that are flags, not filesystem data.
var mountFlags = map[string]mountFlag{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"suid":          {true, unix.MS_NOSUID},
	"nosuid":        {false, unix.MS_NOSUID},
	"dev":           {true, unix.MS_NODEV},
	"nodev":         {false, unix.MS_NODEV},
	"exec":          {true, unix.MS_NOEXEC},
	"noexec":        {false, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"atime":         {true, unix.MS_NOATIME},
	"noatime":       {false, unix.MS_NOATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
}

var propagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// mount makes the mount at target the way moby/sys/mount does: the mount,
// then the propagation, then a read-only remount for binds (a bind mount
// ignores MS_RDONLY on creation).
func (m *mountOpts) mount(target string) error {
	if err := unix.Mount(m.device, target, m.fsType, m.flags, m.data); err != nil {
		return fmt.Errorf("mount %s on %s (type %q, data %q): %w", m.device, target, m.fsType, m.data, err)
	}
	if m.prop != 0 {
		if err := unix.Mount("", target, "", m.prop, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("set propagation of %s: %w", target, err)
		}
	}
	if m.flags&unix.MS_BIND != 0 && m.flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", m.flags|unix.MS_REMOUNT, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount %s read-only: %w", target, err)
		}
	}
	return nil
}
