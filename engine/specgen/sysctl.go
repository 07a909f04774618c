package specgen

import (
	"fmt"
	"os"
	"strings"
)

// ipcSysctls are the kernel.* sysctls the IPC namespace isolates (the
// Docker CLI's whitelist).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
	"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true,
	"kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// checkSysctl accepts only namespaced sysctls, and only when the container
// has its own instance of their namespace: Docker's whitelist plus the
// namespace checks of dockerd and runc.
func checkSysctl(o *Options, k, v string) error {
	if k == "" || strings.Contains(k, "/") || strings.Contains(k, "..") || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
		return fmt.Errorf("sysctl %q: invalid name", k)
	}
	switch {
	case strings.HasPrefix(k, "net."):
		if networkHost(o) {
			return fmt.Errorf("sysctl %q: not allowed in the host network namespace (--network host)", k)
		}
	case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
		if o.Namespaces.IPCHost {
			return fmt.Errorf("sysctl %q: not allowed in the host IPC namespace (--ipc host)", k)
		}
	default:
		return fmt.Errorf("sysctl %q: not allowed: only namespaced sysctls can be set (net.*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*)", k)
	}
	return nil
}

// sysctlExists reports whether the host kernel has sysctl k; the runtime
// fails on unknown ones, so defaults are added only when present.
func sysctlExists(k string) bool {
	_, err := os.Stat("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
	return err == nil
}

// sysctls returns dockerd's defaults for a private network namespace
// (unprivileged ping and low ports), kernel.domainname for --domainname,
// then the user's, validated.
func sysctls(o *Options) (map[string]string, error) {
	out := map[string]string{}
	if o.Domainname != "" {
		if o.Namespaces.UTSHost {
			return nil, fmt.Errorf("--domainname %q: needs the container's own UTS namespace (not --uts host)", o.Domainname)
		}
		out["kernel.domainname"] = o.Domainname
	}
	if !networkHost(o) && !o.Namespaces.NetworkShared {
		if sysctlExists("net.ipv4.ping_group_range") {
			out["net.ipv4.ping_group_range"] = "0 2147483647"
		}
		if sysctlExists("net.ipv4.ip_unprivileged_port_start") {
			out["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	for k, v := range o.Sysctls {
		if err := checkSysctl(o, k, v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
