package initproc

import (
	"strings"

	"golang.org/x/sys/unix"
)

type flagSpec struct {
	clear bool
	flag  uintptr
}

var mountFlags = map[string]flagSpec{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recursive mount attributes (mount_setattr with AT_RECURSIVE), like runc's "rro".
var recAttrs = map[string]struct {
	set, clr uint64
}{
	"rro":            {unix.MOUNT_ATTR_RDONLY, 0},
	"rrw":            {0, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {unix.MOUNT_ATTR_NOSUID, 0},
	"rsuid":          {0, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {unix.MOUNT_ATTR_NODEV, 0},
	"rdev":           {0, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {unix.MOUNT_ATTR_NOEXEC, 0},
	"rexec":          {0, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {unix.MOUNT_ATTR_NODIRATIME, 0},
	"rdiratime":      {0, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"rnorelatime":    {0, unix.MOUNT_ATTR__ATIME},
	"rnoatime":       {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
	"ratime":         {0, unix.MOUNT_ATTR__ATIME},
	"rstrictatime":   {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
	"rnostrictatime": {0, unix.MOUNT_ATTR__ATIME},
	"rnosymfollow":   {unix.MOUNT_ATTR_NOSYMFOLLOW, 0},
	"rsymfollow":     {0, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// parsedMount is a spec mount's options split into what mount(2) takes.
type parsedMount struct {
	flags      uintptr
	propFlags  []uintptr
	data       string
	recSet     uint64
	recClr     uint64
	idmap      bool
	ridmap     bool
	copySymDir bool
}

func parseOptions(opts []string) parsedMount {
	var p parsedMount
	var data []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				p.flags &^= f.flag
			} else {
				p.flags |= f.flag
			}
			continue
		}
		if f, ok := propagationFlags[o]; ok {
			p.propFlags = append(p.propFlags, f)
			continue
		}
		if a, ok := recAttrs[o]; ok {
			p.recSet |= a.set
			p.recClr |= a.clr
			continue
		}
		switch o {
		case "idmap":
			p.idmap = true
			continue
		case "ridmap":
			p.idmap, p.ridmap = true, true
			continue
		case "tmpcopyup", "copy-symlink":
			// accepted for compatibility (crun extensions); no-op here
			continue
		}
		data = append(data, o)
	}
	p.data = strings.Join(data, ",")
	return p
}

// MountOptionNames lists every mount option the init stage understands.
func MountOptionNames() []string {
	var out []string
	for k := range mountFlags {
		out = append(out, k)
	}
	for k := range propagationFlags {
		out = append(out, k)
	}
	for k := range recAttrs {
		out = append(out, k)
	}
	return append(out, "idmap", "ridmap", "tmpcopyup")
}
