package opts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// ParseMount parses a --mount value, Docker's CSV syntax:
//
//	type=bind|volume|tmpfs,src|source=..,dst|destination|target=..,
//	readonly|ro[=true|false],bind-propagation=..,bind-recursive=..,
//	bind-create-src,volume-nocopy,volume-subpath=..,volume-label=k=v,
//	volume-driver=..,volume-opt=k=v,tmpfs-size=..,tmpfs-mode=..
//
// Fields may be CSV-quoted ("source=/a,b"). The type defaults to volume.
// As in Docker, a bind source must exist unless bind-create-src is set.
func ParseMount(spec string) (MountSpec, error) {
	m, err := parseMount(spec)
	if err != nil {
		return MountSpec{}, flagErr(flagMount, spec, err)
	}
	return m, nil
}

func parseMount(value string) (MountSpec, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return MountSpec{}, errors.New("value is empty")
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return MountSpec{}, err
	}
	m := MountSpec{Type: TypeVolume}
	// Which option families were named, to reject mixing them with another
	// type the way the docker CLI does.
	var bindOpts, volumeOpts, tmpfsOpts bool
	for _, field := range fields {
		key, val, hasValue := strings.Cut(field, "=")
		if k := strings.TrimSpace(key); k != key {
			return MountSpec{}, fmt.Errorf("invalid option '%s' in '%s': option should not have whitespace", k, field)
		}
		if hasValue {
			v := strings.TrimSpace(val)
			if v == "" {
				return MountSpec{}, fmt.Errorf("invalid value for '%s': value is empty", key)
			}
			if v != val {
				return MountSpec{}, fmt.Errorf("invalid value for '%s' in '%s': value should not have whitespace", key, field)
			}
		}
		key = strings.ToLower(key)
		if !hasValue {
			switch key {
			case "readonly", "ro", "volume-nocopy", "bind-nonrecursive", "bind-create-src":
			default:
				return MountSpec{}, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
		}
		switch key {
		case "type":
			m.Type = strings.ToLower(val)
		case "source", "src":
			m.Source = val
			if !filepath.IsAbs(val) && strings.HasPrefix(val, ".") {
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = parseBoolValue(key, val, hasValue); err != nil {
				return MountSpec{}, err
			}
		case "consistency":
			m.Consistency = strings.ToLower(val)
		case "bind-propagation":
			bindOpts = true
			m.Propagation = strings.ToLower(val)
		case "bind-nonrecursive":
			return MountSpec{}, errors.New("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
		case "bind-recursive":
			bindOpts = true
			switch val {
			case "enabled", "disabled", "writable", "readonly":
				m.BindRecursive = val
			default:
				return MountSpec{}, fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
			}
		case "bind-create-src":
			bindOpts = true
			if m.BindCreateSource, err = parseBoolValue(key, val, hasValue); err != nil {
				return MountSpec{}, err
			}
		case "volume-subpath":
			volumeOpts = true
			m.VolumeSubpath = val
		case "volume-nocopy":
			volumeOpts = true
			if m.NoCopy, err = parseBoolValue(key, val, hasValue); err != nil {
				return MountSpec{}, err
			}
		case "volume-label":
			volumeOpts = true
			m.VolumeLabels = setValueOnMap(m.VolumeLabels, val)
		case "volume-driver":
			volumeOpts = true
			m.VolumeDriver = val
		case "volume-opt":
			volumeOpts = true
			m.VolumeDriverOpts = setValueOnMap(m.VolumeDriverOpts, val)
		case "tmpfs-size":
			tmpfsOpts = true
			size, err := units.RAMInBytes(val)
			if err != nil {
				return MountSpec{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			m.TmpfsSize = size
		case "tmpfs-mode":
			tmpfsOpts = true
			mode, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return MountSpec{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			m.TmpfsMode = os.FileMode(mode)
		default:
			return MountSpec{}, fmt.Errorf("unknown option '%s' in '%s'", key, field)
		}
	}
	switch {
	case m.Type == "":
		return MountSpec{}, errors.New("type is required")
	case bindOpts && m.Type != TypeBind:
		return MountSpec{}, fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	case volumeOpts && m.Type != TypeVolume:
		return MountSpec{}, fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	case tmpfsOpts && m.Type != TypeTmpfs:
		return MountSpec{}, fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	switch m.BindRecursive {
	case "writable":
		if !m.ReadOnly {
			return MountSpec{}, errors.New("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
		}
	case "readonly":
		if !m.ReadOnly {
			return MountSpec{}, errors.New("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
		}
		if m.Propagation != "rprivate" {
			return MountSpec{}, errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
		}
	}
	if err := ValidateMount(m, true); err != nil {
		return MountSpec{}, err
	}
	if err := checkVolumeName(m); err != nil {
		return MountSpec{}, err
	}
	m.Target = path.Clean(m.Target)
	if m.Type == TypeBind {
		m.Source = path.Clean(m.Source)
	}
	if m.Type == TypeTmpfs {
		m.Options = tmpfsMountOptions(m.ReadOnly, m.TmpfsSize, m.TmpfsMode)
	}
	return m, nil
}

// parseBoolValue accepts only 1, true, 0, false; a bare key means true.
func parseBoolValue(key, val string, hasValue bool) (bool, error) {
	if !hasValue {
		return true, nil
	}
	switch val {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf(`invalid value for '%s': invalid boolean value (%q): must be one of "true", "1", "false", or "0" (default "true")`, key, val)
}

func setValueOnMap(target map[string]string, keyValue string) map[string]string {
	k, v, _ := strings.Cut(keyValue, "=")
	if k == "" {
		return target
	}
	if target == nil {
		target = map[string]string{}
	}
	target[k] = v
	return target
}
