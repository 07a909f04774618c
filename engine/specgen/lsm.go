package specgen

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Overridable by tests: where the LSMs announce themselves.
var (
	apparmorEnabledFile  = "/sys/module/apparmor/parameters/enabled"
	apparmorProfilesFile = "/sys/kernel/security/apparmor/profiles"
	selinuxEnforceFile   = "/sys/fs/selinux/enforce"
)

func apparmorEnabled() bool {
	b, err := os.ReadFile(apparmorEnabledFile)
	return err == nil && strings.HasPrefix(string(b), "Y")
}

func selinuxEnabled() bool {
	_, err := os.Stat(selinuxEnforceFile)
	return err == nil
}

// apparmorLoaded reports whether profile name is loaded in the kernel.
func apparmorLoaded(name string) bool {
	f, err := os.Open(apparmorProfilesFile)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if n, _, _ := strings.Cut(s.Text(), " ("); n == name {
			return true
		}
	}
	return false
}

// apparmorProfile is dockerd's choice: the profile asked for; else
// "unconfined" when privileged; else docker-default. berth does not load
// docker-default itself, so it is used only when already loaded.
func apparmorProfile(o *Options) (string, error) {
	if !apparmorEnabled() {
		if o.AppArmor != "" && o.AppArmor != "unconfined" {
			return "", fmt.Errorf("apparmor profile %q: AppArmor is not enabled on this host (%s)", o.AppArmor, apparmorEnabledFile)
		}
		return "", nil
	}
	switch {
	case o.AppArmor != "":
		return o.AppArmor, nil
	case o.Privileged:
		return "unconfined", nil
	case apparmorLoaded("docker-default"):
		return "docker-default", nil
	}
	return "", nil
}

// selinuxLabel returns the process label; asking for one on a host
// without SELinux is an error.
func selinuxLabel(o *Options) (string, error) {
	if o.SELinuxLabel == "" || o.SELinuxLabel == "disable" {
		return "", nil
	}
	if !selinuxEnabled() {
		return "", fmt.Errorf("selinux label %q: SELinux is not enabled on this host (%s)", o.SELinuxLabel, selinuxEnforceFile)
	}
	return o.SELinuxLabel, nil
}
