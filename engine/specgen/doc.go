// Package specgen turns an image's config and `berth run`/`create` options
// into the OCI runtime spec (config.json) the way dockerd does it: the same
// defaults (capabilities, mounts, masked and read-only paths, device rules,
// seccomp profile), the same Entrypoint/Cmd and Env merge rules, the same
// user resolution against the image's /etc/passwd and /etc/group, and the
// same validation of resources, sysctls and devices.
//
// Generate is the entry point. It reads only what Docker reads: the
// container's rootfs (passwd, group, the working directory, which it
// creates), the host's device nodes for --device and --privileged, and a few
// host facts (capabilities of the caller, cgroup version, LSMs, CPUs).
//
// Reference: moby's daemon/oci_linux.go, daemon/pkg/oci/defaults.go,
// daemon/pkg/oci/caps, daemon/commit.go (merge) and container.CreateDaemonEnvironment.
package specgen
