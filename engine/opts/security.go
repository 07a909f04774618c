package opts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Special --security-opt seccomp values.
const (
	SeccompUnconfined = "unconfined"
	SeccompBuiltin    = "builtin" // Docker's name for the default profile
)

// SecurityOpts is the parsed set of --security-opt values.
type SecurityOpts struct {
	NoNewPrivileges bool
	// Seccomp is "" (default profile), SeccompUnconfined, SeccompBuiltin, or
	// the path of a profile file, whose compacted JSON is SeccompProfile
	// (Docker reads the file at parse time).
	Seccomp        string
	SeccompProfile []byte
	AppArmor       string // "" = default, "unconfined" or a profile name
	Label          LabelOpts
	// SystemPathsUnconfined: systempaths=unconfined, no masked or
	// read-only /proc and /sys paths.
	SystemPathsUnconfined bool
	WritableCgroups       *bool // writable-cgroups=true|false, nil = unset
}

// LabelOpts are the SELinux label=... options.
type LabelOpts struct {
	Disable  bool
	Nested   bool
	User     string
	Role     string
	Type     string
	Level    string
	FileType string
}

// ParseSecurityOpt parses --security-opt values: seccomp=FILE|unconfined,
// no-new-privileges[=|:true|false], label=user:|role:|type:|level:|
// filetype:|disable|nested, apparmor=PROFILE|unconfined,
// systempaths=unconfined, writable-cgroups=BOOL. The deprecated ':'
// separator (seccomp:FILE) is accepted like Docker does.
func ParseSecurityOpt(list []string) (SecurityOpts, error) {
	var s SecurityOpts
	for _, opt := range list {
		if err := s.parseOne(opt); err != nil {
			return SecurityOpts{}, flagErr(flagSecurityOpt, opt, err)
		}
	}
	return s, nil
}

func (s *SecurityOpts) parseOne(opt string) error {
	if opt == "no-new-privileges" {
		s.NoNewPrivileges = true
		return nil
	}
	var k, v string
	var ok bool
	if strings.Contains(opt, "=") {
		k, v, ok = strings.Cut(opt, "=")
	} else {
		k, v, ok = strings.Cut(opt, ":")
	}
	if !ok || v == "" {
		return fmt.Errorf("invalid --security-opt: %q", opt)
	}
	switch k {
	case "no-new-privileges":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid --security-opt 2: %q", opt)
		}
		s.NoNewPrivileges = b
	case "seccomp":
		s.Seccomp, s.SeccompProfile = v, nil
		if v == SeccompUnconfined || v == SeccompBuiltin {
			return nil
		}
		data, err := os.ReadFile(v)
		if err != nil {
			return fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, data); err != nil {
			return fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
		}
		s.SeccompProfile = b.Bytes()
	case "apparmor":
		s.AppArmor = v
	case "label":
		return s.Label.parse(v)
	case "systempaths":
		if v != "unconfined" {
			return fmt.Errorf("invalid --security-opt 2: %q", opt)
		}
		s.SystemPathsUnconfined = true
	case "writable-cgroups":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid --security-opt 2: %q", opt)
		}
		s.WritableCgroups = &b
	default:
		return fmt.Errorf("invalid --security-opt 2: %q", opt)
	}
	return nil
}

// parse is selinux label.InitLabels' option check.
func (l *LabelOpts) parse(v string) error {
	switch v {
	case "disable":
		l.Disable = true
		return nil
	case "nested":
		l.Nested = true
		return nil
	}
	k, val, ok := strings.Cut(v, ":")
	if ok && val != "" {
		switch k {
		case "user":
			l.User = val
			return nil
		case "role":
			l.Role = val
			return nil
		case "type":
			l.Type = val
			return nil
		case "level":
			l.Level = val
			return nil
		case "filetype":
			l.FileType = val
			return nil
		}
	}
	return fmt.Errorf("bad label option %q, valid options 'disable' or \n'user, role, level, type, filetype' followed by ':' and a value", v)
}
