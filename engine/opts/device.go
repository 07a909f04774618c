package opts

import (
	"fmt"
	"path"
	"strings"
)

// Device is a --device mapping.
type Device struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string // a combination of r, w, m
}

// ParseDevice parses a --device value "/dev/host[:/dev/ctr][:rwm]"; the
// container path defaults to the host path and permissions to rwm.
func ParseDevice(spec string) (Device, error) {
	d, err := parseDevice(spec)
	if err != nil {
		return Device{}, flagErr(flagDevice, spec, err)
	}
	return d, nil
}

func parseDevice(val string) (Device, error) {
	// The flag's validator (validateLinuxPath) first.
	if strings.Count(val, ":") > 2 {
		return Device{}, fmt.Errorf("bad format for path: %s", val)
	}
	split := strings.SplitN(val, ":", 3)
	if split[0] == "" {
		return Device{}, fmt.Errorf("bad format for path: %s", val)
	}
	d := Device{PathOnHost: split[0], CgroupPermissions: "rwm"}
	switch len(split) {
	case 2:
		if validDeviceMode(split[1]) {
			d.CgroupPermissions = split[1]
		} else {
			d.PathInContainer = split[1]
		}
	case 3:
		if !validDeviceMode(split[2]) {
			return Device{}, fmt.Errorf("bad mode specified: %s", split[2])
		}
		d.PathInContainer, d.CgroupPermissions = split[1], split[2]
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !path.IsAbs(d.PathInContainer) {
		return Device{}, fmt.Errorf("%s is not an absolute path", d.PathInContainer)
	}
	d.PathInContainer = path.Clean(d.PathInContainer)
	return d, nil
}

// validDeviceMode: r, w and m, each at most once.
func validDeviceMode(mode string) bool {
	if mode == "" {
		return false
	}
	legal := map[rune]bool{'r': true, 'w': true, 'm': true}
	for _, c := range mode {
		if !legal[c] {
			return false
		}
		legal[c] = false
	}
	return true
}
