package cgroups

import (
	"fmt"
	"path"
	"strings"
)

// cgroupPath turns a spec's linux.cgroupsPath into a clean absolute path
// inside every hierarchy.
//
//   - "" → "/<id>";
//   - relative paths are taken under "/";
//   - the systemd form "slice:prefix:name" (or any path when Systemd is set
//     and it has two colons) → "/<expanded slice>/prefix-name.scope", where
//     the slice "a-b.slice" expands to "a.slice/a-b.slice" as systemd does.
func cgroupPath(c Config) (string, error) {
	p := c.Path
	if p == "" {
		if c.ID == "" {
			return "", fmt.Errorf("cgroup: neither cgroupsPath nor container id given")
		}
		if strings.ContainsAny(c.ID, "/:\x00") || c.ID == "." || c.ID == ".." {
			return "", fmt.Errorf("cgroup: container id %q cannot name a cgroup", c.ID)
		}
		if c.Systemd {
			p = "system.slice:berth:" + c.ID
		} else {
			p = "/" + c.ID
		}
	}
	if strings.Count(p, ":") == 2 && !strings.HasPrefix(p, "/") {
		return systemdPath(p)
	}
	if c.Systemd && !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("cgroup: cgroupsPath %q: expected \"slice:prefix:name\" with --systemd-cgroup", p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("cgroup: cgroupsPath %q contains a NUL byte", p)
	}
	// Joining to "/" resolves "..": the path cannot leave the hierarchy.
	clean := path.Join("/", p)
	if clean == "/" {
		return "", fmt.Errorf("cgroup: cgroupsPath %q names the root cgroup", c.Path)
	}
	return clean, nil
}

func systemdPath(p string) (string, error) {
	parts := strings.SplitN(p, ":", 3)
	slice, prefix, name := parts[0], parts[1], parts[2]
	if name == "" || strings.Contains(name, "/") || strings.Contains(prefix, "/") {
		return "", fmt.Errorf("cgroup: cgroupsPath %q: bad systemd unit name", p)
	}
	if slice == "" {
		slice = "system.slice"
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", fmt.Errorf("cgroup: cgroupsPath %q: %w", p, err)
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		if prefix != "" {
			unit = prefix + "-" + name + ".scope"
		} else {
			unit = name + ".scope"
		}
	}
	return path.Join(dir, unit), nil
}

// expandSlice turns "a-b-c.slice" into "/a.slice/a-b.slice/a-b-c.slice".
func expandSlice(slice string) (string, error) {
	const suffix = ".slice"
	if !strings.HasSuffix(slice, suffix) || len(slice) == len(suffix) || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	if slice == "-.slice" {
		return "/", nil
	}
	base := strings.TrimSuffix(slice, suffix)
	var b strings.Builder
	prefix := ""
	for _, comp := range strings.Split(base, "-") {
		if comp == "" {
			return "", fmt.Errorf("invalid slice name %q", slice)
		}
		b.WriteString("/")
		b.WriteString(prefix + comp + suffix)
		prefix += comp + "-"
	}
	return b.String(), nil
}
