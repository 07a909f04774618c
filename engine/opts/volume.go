package opts

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

var rwModes = map[string]bool{"rw": true, "ro": true}
var labelModes = map[string]bool{"z": true, "Z": true}
var consistencyModes = map[string]bool{"consistent": true, "cached": true, "delegated": true}

// validMountMode is Docker's linuxValidMountMode: each kind of mode word at
// most once, and nothing unknown.
func validMountMode(mode string) bool {
	if mode == "" {
		return true
	}
	var rw, label, prop, cp, cons int
	for o := range strings.SplitSeq(mode, ",") {
		switch {
		case rwModes[o]:
			rw++
		case labelModes[o]:
			label++
		case propagationModes[o]:
			prop++
		case o == "nocopy":
			cp++
		case consistencyModes[o]:
			cons++
		default:
			return false
		}
	}
	return rw <= 1 && label <= 1 && prop <= 1 && cp <= 1 && cons <= 1
}

// ParseVolume parses a -v/--volume value:
//
//	/dst                      anonymous volume
//	name:/dst[:mode]          named volume
//	/host:/dst[:mode]         bind mount
//
// mode is a comma list of ro|rw, z|Z, nocopy, a propagation
// (private, rprivate, shared, rshared, slave, rslave) and a consistency
// word. Like the docker CLI, a host path starting with "." is made
// absolute against the working directory; any other relative source is a
// volume name and must match [a-zA-Z0-9][a-zA-Z0-9_.-]+.
func ParseVolume(spec string) (MountSpec, error) {
	m, err := parseVolume(spec)
	if err != nil {
		return MountSpec{}, flagErr(flagVolume, spec, err)
	}
	return m, nil
}

func parseVolume(raw string) (MountSpec, error) {
	invalid := fmt.Errorf("invalid volume specification: '%s'", raw)
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return MountSpec{}, invalid
	}
	var m MountSpec
	var mode string
	switch len(arr) {
	case 1:
		m.Target = arr[0]
	case 2:
		// "/dst:ro" is not valid: a mode needs a source.
		if validMountMode(arr[1]) {
			return MountSpec{}, invalid
		}
		m.Source, m.Target = arr[0], arr[1]
	case 3:
		m.Source, m.Target, mode = arr[0], arr[1], arr[2]
	default:
		return MountSpec{}, invalid
	}
	if !validMountMode(mode) {
		return MountSpec{}, fmt.Errorf("invalid mode: %v", mode)
	}
	if strings.HasPrefix(m.Source, ".") {
		abs, err := filepath.Abs(m.Source)
		if err != nil {
			return MountSpec{}, fmt.Errorf("%v: %w", invalid, err)
		}
		m.Source = abs
	}
	if path.IsAbs(m.Source) {
		m.Type = TypeBind
	} else {
		m.Type = TypeVolume
	}
	if mode != "" {
		m.Options = strings.Split(mode, ",")
	}
	for _, o := range m.Options {
		switch {
		case o == "ro":
			m.ReadOnly = true
		case labelModes[o]:
			m.Relabel = o
		case propagationModes[o]:
			m.Propagation = o
		case o == "nocopy":
			m.NoCopy = true
		case consistencyModes[o]:
			m.Consistency = o
		}
	}
	if err := ValidateMount(m, false); err != nil {
		return MountSpec{}, fmt.Errorf("%v: %w", invalid, err)
	}
	if err := checkVolumeName(m); err != nil {
		return MountSpec{}, err
	}
	m.Target = path.Clean(m.Target)
	if m.Type == TypeBind {
		m.Source = path.Clean(m.Source)
	}
	return m, nil
}

// CheckDuplicateTargets fails when two mounts share a destination, with
// Docker's "Duplicate mount point" wording.
func CheckDuplicateTargets(mounts []MountSpec) error {
	seen := make(map[string]bool, len(mounts))
	for _, m := range mounts {
		t := path.Clean(m.Target)
		if seen[t] {
			return fmt.Errorf("Duplicate mount point: %s", t)
		}
		seen[t] = true
	}
	return nil
}
