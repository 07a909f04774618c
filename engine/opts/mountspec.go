package opts

import (
	"errors"
	"fmt"
	"os"
	"path"
)

// Mount types.
const (
	TypeBind   = "bind"
	TypeVolume = "volume"
	TypeTmpfs  = "tmpfs"
)

// MountSpec is one container mount from -v, --mount or --tmpfs.
type MountSpec struct {
	Type   string // TypeBind, TypeVolume or TypeTmpfs
	Source string // bind: absolute host path; volume: name ("" = anonymous); tmpfs: ""
	Target string // absolute, cleaned path in the container

	ReadOnly bool
	// Propagation is the bind propagation (private, rprivate, shared,
	// rshared, slave, rslave); "" means Docker's default, rprivate.
	Propagation string
	// Relabel is the SELinux relabel request of -v: "z" (shared) or "Z"
	// (private), "" for none.
	Relabel string
	// Consistency is the macOS-only -v/--mount consistency word, kept only
	// so that specs written for Docker Desktop parse.
	Consistency string
	// Options: for -v, the mode words as given ("ro,z,nocopy"); for tmpfs,
	// the merged mount options (flags and data) in the order to apply.
	Options []string

	// Volume only.
	NoCopy           bool // do not copy image content into a new empty volume
	VolumeSubpath    string
	VolumeDriver     string
	VolumeLabels     map[string]string
	VolumeDriverOpts map[string]string

	// Bind only.
	BindCreateSource bool   // bind-create-src: create a missing source dir
	BindRecursive    string // "", enabled, disabled, writable, readonly

	// Tmpfs only.
	TmpfsSize int64       // bytes, 0 = kernel default (half of RAM)
	TmpfsMode os.FileMode // 0 = kernel default (1777)
}

var propagationModes = map[string]bool{
	"private": true, "rprivate": true,
	"shared": true, "rshared": true,
	"slave": true, "rslave": true,
}

// ValidateVolumeName checks a local volume name with Docker's wording:
// the local driver's rule (Docker's RestrictedNameChars), as the name
// becomes a directory under the volumes root.
func ValidateVolumeName(name string) error {
	if len(name) == 1 {
		return fmt.Errorf("create %s: volume name is too short, names should be at least two alphanumeric characters", name)
	}
	if !RestrictedName(name) {
		return fmt.Errorf(`create %s: %q includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, name, name)
	}
	return nil
}

// checkVolumeName applies the local driver's name rule to a named volume
// early, with the error Docker gives when it creates the volume.
func checkVolumeName(m MountSpec) error {
	if m.Type != TypeVolume || m.Source == "" || (m.VolumeDriver != "" && m.VolumeDriver != "local") {
		return nil
	}
	return ValidateVolumeName(m.Source)
}

// ValidateMount checks a mount the way Docker's daemon does
// (validateMountConfig); volume names are checked by the volume store when
// it creates the volume. checkBindSource also requires a bind source to
// exist unless BindCreateSource is set: Docker does that for --mount and
// the API's Mounts, not for -v (which creates a missing source dir).
func ValidateMount(m MountSpec, checkBindSource bool) error {
	if err := validateMount(m, checkBindSource); err != nil {
		return fmt.Errorf("invalid mount config for type %q: %w", m.Type, err)
	}
	return nil
}

func validateMount(m MountSpec, checkBindSource bool) error {
	if m.Target == "" {
		return errors.New("field Target must not be empty")
	}
	if path.Clean(m.Target) == "/" {
		return errors.New("invalid specification: destination can't be '/'")
	}
	if !path.IsAbs(m.Target) {
		return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Target)
	}
	hasVolumeOpts := m.NoCopy || m.VolumeSubpath != "" || m.VolumeDriver != "" ||
		len(m.VolumeLabels) > 0 || len(m.VolumeDriverOpts) > 0
	hasBindOpts := m.Propagation != "" || m.BindCreateSource || m.BindRecursive != ""
	hasTmpfsOpts := m.TmpfsSize != 0 || m.TmpfsMode != 0
	switch m.Type {
	case TypeBind:
		if m.Source == "" {
			return errors.New("field Source must not be empty")
		}
		if m.Propagation != "" && !propagationModes[m.Propagation] {
			return fmt.Errorf("invalid propagation mode: %s", m.Propagation)
		}
		if hasVolumeOpts {
			return errors.New("field VolumeOptions must not be specified")
		}
		if hasTmpfsOpts {
			return errors.New("field TmpfsOptions must not be specified")
		}
		if !path.IsAbs(m.Source) {
			return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		if checkBindSource && !m.BindCreateSource {
			if _, err := os.Stat(m.Source); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("bind source path does not exist: %s", m.Source)
				}
				return err
			}
		}
	case TypeVolume:
		if hasBindOpts {
			return errors.New("field BindOptions must not be specified")
		}
		if hasTmpfsOpts {
			return errors.New("field TmpfsOptions must not be specified")
		}
		anonymous := m.Source == ""
		if m.VolumeSubpath != "" {
			if anonymous {
				return errors.New("must not set Subpath when using anonymous volumes")
			}
			if !isLocalPath(m.VolumeSubpath) {
				return errors.New("subpath must be a relative path within the volume")
			}
		}
		if m.ReadOnly && anonymous {
			return errors.New("must not set ReadOnly mode when using anonymous volumes")
		}
	case TypeTmpfs:
		if hasBindOpts {
			return errors.New("field BindOptions must not be specified")
		}
		if hasVolumeOpts {
			return errors.New("field VolumeOptions must not be specified")
		}
		if m.Source != "" {
			return errors.New("field Source must not be specified")
		}
		if m.TmpfsSize < 0 {
			return errors.New("invalid tmpfs size: must not be negative")
		}
	case "image", "npipe", "cluster":
		return fmt.Errorf("mount type %q is not supported", m.Type)
	default:
		return errors.New("mount type unknown")
	}
	return nil
}

// isLocalPath is filepath.IsLocal for slash paths: relative, no "..".
func isLocalPath(p string) bool {
	if p == "" || path.IsAbs(p) {
		return false
	}
	c := path.Clean(p)
	return c != ".." && !hasDotDotPrefix(c)
}

func hasDotDotPrefix(p string) bool { return len(p) >= 3 && p[:3] == "../" }

// RestrictedName says whether s matches Docker's RestrictedNameChars,
// ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$, the rule for container and volume names
// (without a regexp compiled at init).
func RestrictedName(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}
