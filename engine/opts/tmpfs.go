package opts

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// ParseTmpfs parses a --tmpfs value, "/dst[:opts]", where opts are tmpfs
// mount options (size=64m,mode=1777,uid=,gid=,nr_inodes=,nr_blocks=,mpol=
// and mount flags such as ro, exec, nosuid). Like Docker, the options are
// merged over the defaults noexec,nosuid,nodev,rprivate; a later option
// overrides an earlier one of the same kind.
func ParseTmpfs(spec string) (MountSpec, error) {
	m, err := parseTmpfs(spec)
	if err != nil {
		return MountSpec{}, flagErr(flagTmpfs, spec, err)
	}
	return m, nil
}

func parseTmpfs(spec string) (MountSpec, error) {
	dst, data, _ := strings.Cut(spec, ":")
	if path.Clean(dst) == "/" {
		return MountSpec{}, fmt.Errorf("invalid specification: destination can't be '/'")
	}
	if !path.IsAbs(dst) {
		return MountSpec{}, fmt.Errorf("invalid mount path: '%s' mount path must be absolute", dst)
	}
	var given []string
	if data != "" {
		given = strings.Split(data, ",")
	}
	merged, err := mergeTmpfsOptions(append(defaultTmpfsOptions(), given...))
	if err != nil {
		return MountSpec{}, err
	}
	m := MountSpec{Type: TypeTmpfs, Target: path.Clean(dst), Options: merged}
	for _, o := range merged {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "ro":
			m.ReadOnly = true
		case "size":
			// Percent sizes are relative to RAM: only the kernel knows
			// the bytes, so TmpfsSize stays 0 and the option carries it.
			if !strings.HasSuffix(v, "%") {
				size, err := units.RAMInBytes(v)
				if err != nil || size < 0 {
					return MountSpec{}, fmt.Errorf("invalid tmpfs size %q", v)
				}
				m.TmpfsSize = size
			}
		case "mode":
			mode, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return MountSpec{}, fmt.Errorf("invalid tmpfs mode %q: must be octal", v)
			}
			m.TmpfsMode = os.FileMode(mode)
		}
	}
	return m, nil
}

func defaultTmpfsOptions() []string {
	return []string{"noexec", "nosuid", "nodev", "rprivate"}
}

// tmpfsMountOptions renders --mount type=tmpfs fields the way Docker's
// ConvertTmpfsOptions does, merged over the defaults.
func tmpfsMountOptions(ro bool, size int64, mode os.FileMode) []string {
	var data []string
	if ro {
		data = append(data, "ro")
	}
	if mode != 0 {
		data = append(data, fmt.Sprintf("mode=%o", mode))
	}
	if size != 0 {
		suffix := ""
		for _, r := range []struct {
			suffix  string
			divisor int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%r.divisor == 0 {
				size /= r.divisor
				suffix = r.suffix
				break
			}
		}
		data = append(data, fmt.Sprintf("size=%d%s", size, suffix))
	}
	merged, _ := mergeTmpfsOptions(append(defaultTmpfsOptions(), data...))
	return merged
}

// mountFlagKinds groups mount flags by the bit they set or clear: of two
// options of one kind the later wins. All propagation modes are one kind.
var mountFlagKinds = map[string]string{
	"ro": "rdonly", "rw": "rdonly",
	"suid": "nosuid", "nosuid": "nosuid",
	"dev": "nodev", "nodev": "nodev",
	"exec": "noexec", "noexec": "noexec",
	"sync": "sync", "async": "sync",
	"dirsync": "dirsync", "remount": "remount",
	"mand": "mand", "nomand": "mand",
	"atime": "noatime", "noatime": "noatime",
	"diratime": "nodiratime", "nodiratime": "nodiratime",
	"bind": "bind", "rbind": "rbind",
	"relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime",
	"private": "propagation", "rprivate": "propagation",
	"shared": "propagation", "rshared": "propagation",
	"slave": "propagation", "rslave": "propagation",
	"unbindable": "propagation", "runbindable": "propagation",
}

var tmpfsDataKeys = map[string]bool{
	"size": true, "mode": true, "uid": true, "gid": true,
	"nr_inodes": true, "nr_blocks": true, "mpol": true,
}

// mergeTmpfsOptions is Docker's MergeTmpfsOptions: walk from the end and
// keep the last option of each kind, preserving order.
func mergeTmpfsOptions(options []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(options) - 1; i >= 0; i-- {
		o := options[i]
		if o == "defaults" {
			continue
		}
		key, isFlag := mountFlagKinds[o]
		if !isFlag {
			kv := strings.SplitN(o, "=", 2)
			if len(kv) != 2 || !tmpfsDataKeys[kv[0]] {
				return nil, fmt.Errorf("Invalid tmpfs option %q", kv)
			}
			key = "data:" + kv[0]
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append([]string{o}, out...)
	}
	return out, nil
}
