# lib-bundle.sh - shell helpers shared by scripts/conformance.sh and
# scripts/bench-runtime.sh. Source it; it defines functions only (plus PATH).
#
#   lb_need_root                   exit 2 unless running as root
#   lb_busybox_rootfs DIR          DIR/{bin,dev,etc,proc,sys,tmp} with busybox-static
#                                  and its applet symlinks (/bin/true, /bin/sh, ...)
#   lb_bundle DIR ARGS...          OCI bundle DIR (rootfs/ + config.json from
#                                  "runc spec" if runc exists, else a built-in
#                                  template) running ARGS, terminal false
#   lb_hide_cg2_exec SCRIPT ARGS   re-exec SCRIPT in a private mount namespace in
#                                  which /sys/fs/cgroup/unified/cgroup.controllers
#                                  reads empty (crun 1.8.1 refuses this hybrid host
#                                  otherwise, see shared/bench/runtime-lifecycle.sh)
#   lb_rt_cleanup RUNTIME ROOT     "RUNTIME --root ROOT delete -f" every container
#                                  in ROOT, then remove ROOT; never fails
#   lb_maxrss_tool DIR             build DIR/maxrss (tiny Go program: runs a command,
#                                  prints "maxrss_kb=N" of it and its reaped
#                                  descendants from wait4 rusage, like GNU time)
#
# Needs: busybox-static, jq, go (for lb_maxrss_tool).

[[ :$PATH: == *:/usr/local/go/bin:* ]] || PATH=$PATH:/usr/local/go/bin
[[ :$PATH: == *:/usr/sbin:* ]] || PATH=$PATH:/usr/sbin:/sbin

lb_need_root() {
  if [[ $(id -u) != 0 ]]; then
    echo "${0##*/}: must run as root (OCI runtimes need real namespaces, mounts and cgroups)" >&2
    exit 2
  fi
}

lb_busybox_rootfs() {
  local r=$1 bb=/bin/busybox
  [[ -x $bb ]] || { echo "lb_busybox_rootfs: $bb missing: apt-get install busybox-static" >&2; return 1; }
  mkdir -p "$r"/{bin,dev,etc,proc,sys,tmp}
  install -m 0755 "$bb" "$r/bin/busybox"
  chroot "$r" /bin/busybox --install -s /bin # /bin/true -> /bin/busybox etc.
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
}

# config.json template equal to "runc spec" of runc 1.1.5, used when runc is
# not installed so that the bundle never depends on the runtime under test.
_lb_spec_template() {
  cat <<'EOF'
{"ociVersion":"1.0.2-dev","process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],
"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/",
"capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
"effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
"ambient":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},
"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},
"root":{"path":"rootfs","readonly":true},"hostname":"runc",
"mounts":[{"destination":"/proc","type":"proc","source":"proc"},
{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},
{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},
{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}],
"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},
"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],
"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list",
"/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
"readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}
EOF
}

lb_bundle() {
  local b=$1; shift
  local args
  args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
  rm -rf "$b"
  mkdir -p "$b"
  lb_busybox_rootfs "$b/rootfs"
  if command -v runc >/dev/null; then
    (cd "$b" && runc spec)
  else
    _lb_spec_template | jq . > "$b/config.json"
  fi
  jq --argjson a "$args" '.process.args = $a | .process.terminal = false' "$b/config.json" > "$b/config.json.new"
  mv "$b/config.json.new" "$b/config.json"
}

lb_hide_cg2_exec() {
  local f=/sys/fs/cgroup/unified/cgroup.controllers
  if [[ ! -e $f ]]; then
    return 0 # no hybrid cgroup2 mount: nothing to hide
  fi
  exec unshare -m --propagation private env _LB_CG2_HIDDEN=1 bash -c \
    'mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec bash "$0" "$@"' "$@"
}

lb_rt_cleanup() {
  local rt=$1 root=$2 id
  [[ -d $root ]] || return 0
  if [[ -x $rt ]]; then
    # state dirs are named after the container id in runc, crun and berth;
    # "list -q" would hide a container whose state file is half written
    for id in $( { "$rt" --root "$root" list -q 2>/dev/null; ls -1 "$root" 2>/dev/null; } | sort -u); do
      [[ $id == .* ]] && continue
      "$rt" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$root" 2>/dev/null || true
}

lb_maxrss_tool() {
  local dir=$1
  [[ -x $dir/maxrss ]] && return 0
  local src
  src=$(mktemp -d)
  cat > "$src/main.go" <<'EOF'
// maxrss runs a command and prints the peak resident set size of it and of
// the descendants it waited for (ru_maxrss of wait4, as GNU time reports).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: maxrss COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "maxrss:", err)
		os.Exit(127)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Fprintf(os.Stderr, "maxrss_kb=%d\n", ru.Maxrss)
	os.Exit(cmd.ProcessState.ExitCode())
}
EOF
  printf 'module maxrss\n\ngo 1.21\n' > "$src/go.mod"
  mkdir -p "$dir"
  (cd "$src" && GOWORK=off GOFLAGS= CGO_ENABLED=0 go build -o "$dir/maxrss" .)
  rm -rf "$src"
}
