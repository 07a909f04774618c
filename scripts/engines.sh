#!/usr/bin/env bash
# engines.sh - drive berth's OCI runtime from real container engines: podman
# (--runtime), containerd (ctr run --runc-binary) and dockerd (--add-runtime),
# with a busybox image made locally (no network). Every engine gets private
# state under one temp dir; nothing of the host's engine state is used or left
# behind (daemons, mounts and state dirs are removed on exit, even on failure).
#
# Usage: scripts/engines.sh                    (RUNTIME=./bin/berth-runc)
#        RUNTIME=/usr/sbin/runc scripts/engines.sh   the same checks with runc
#        COMPARE=1 scripts/engines.sh          runc first, then berth, then a
#                                              side-by-side table of the checks
# Environment:
#   RUNTIME   runc-compatible binary under test (default bin/berth-runc)
#   ENGINES   subset of "podman containerd docker" (default: all three)
#   KEEP=1    keep the temp dir (logs, runtime --log files) for inspection
#   VERBOSE=1 print every command's output, not only a failing one's
#   TIMEOUT   seconds per engine command (default 60)
#   PAR       containers started at once by the parallel checks (default 5)
# Output: one "PASS|FAIL engine/check (runtime)" line per check and a final
# "engines: N passed, M failed"; exit status 0 only if nothing failed.
# Needs root and the Debian packages podman conmon catatonit containerd
# docker.io busybox-static skopeo umoci jq (scripts/setup.sh installs them).
set -uo pipefail
export LC_ALL=C
[[ :$PATH: == *:/usr/sbin:* ]] || PATH=$PATH:/usr/sbin:/sbin

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib-bundle.sh
. "$REPO/scripts/lib-bundle.sh"
lb_need_root

TIMEOUT=${TIMEOUT:-60}
PAR=${PAR:-5} # containers started at once in the parallel checks
ENGINES=${ENGINES:-podman containerd docker}
IMG=docker.io/berth-engines/busybox:latest
DOCKER=/usr/bin/docker # Debian's docker.io client (matches dockerd 20.10)

if [[ ${COMPARE:-} == 1 ]]; then
  # Run runc then berth, each in its own process (own temp dir and traps),
  # then print both columns per check.
  out=$(mktemp -d /tmp/berth-engines-cmp.XXXXXX)
  COMPARE= RUNTIME=${RUNC:-/usr/sbin/runc} bash "$0" | tee "$out/runc"
  COMPARE= RUNTIME=${BERTH:-$REPO/bin/berth-runc} bash "$0" | tee "$out/berth"
  rc=${PIPESTATUS[0]}
  echo "== compare: check | runc | berth"
  awk '/^(PASS|FAIL) /{print $2}' "$out/runc" "$out/berth" | awk '!s[$0]++' | while read -r c; do
    r=$(awk -v c="$c" '$2==c{print $1}' "$out/runc")
    b=$(awk -v c="$c" '$2==c{print $1}' "$out/berth")
    printf '%-36s %-5s %-5s%s\n' "$c" "${r:--}" "${b:--}" "$([[ $r == PASS && $b != PASS ]] && echo '  <- berth differs')"
  done
  rm -rf "$out"
  exit "$rc"
fi

RUNTIME=${RUNTIME:-$REPO/bin/berth-runc}
RUNTIME=$(realpath -s "$RUNTIME")
[[ -x $RUNTIME ]] || { echo "engines.sh: runtime $RUNTIME is not executable (make build?)" >&2; exit 2; }
RTNAME=$(basename "$RUNTIME")
# the host's capability bounding set, what "all capabilities" means here
BND=$(awk '/^CapBnd/{sub(/^0+/, "", $2); print $2}' /proc/self/status)

T=$(mktemp -d /tmp/berth-engines.XXXXXX)
chmod 0711 "$T"
# conmon writes an "oom" file into its working directory when a container
# is OOM-killed: keep that (and any other droppings) in the scratch dir.
cd "$T"
npass=0 nfail=0
PIDS=()
# Host paths the engines create whatever their private roots: containerd 1.6
# puts shim sockets (s/) and ctr's fifos (fifo/) under /run/containerd,
# netavark its run dir under /run/containers, podman its SHM lock in /dev/shm.
# Those that did not exist before are removed at exit if they are empty then
# (so a concurrent user of the same path is never disturbed).
HOST_PATHS=(/run/berth /run/runc /run/containerd /run/containers /run/libpod /run/docker /var/lib/containers
  /var/lib/docker /var/lib/containerd /etc/containerd /etc/docker/key.json /etc/cni/net.d)
NEW_PATHS=()
for p in "${HOST_PATHS[@]}"; do [[ -e $p ]] || NEW_PATHS+=("$p"); done
[[ -e /dev/shm/libpod_lock ]] && had_libpod_lock=1 || had_libpod_lock=0
# Parent cgroups the engines create under every v1 controller (cgroupfs
# driver): ctr's namespace, dockerd's "docker", podman's "libpod_parent".
# The runtime removes each container's own cgroup at delete (checked below);
# the parents are removed at exit if they are new and empty.
CG_PARENTS=(berth-engines docker libpod_parent)
NEW_CG=()
for p in "${CG_PARENTS[@]}"; do
  for c in /sys/fs/cgroup/*/; do [[ -d $c$p ]] || NEW_CG+=("$c$p"); done
done

# Devices cgroup as runc sets it: the spec's rules, then runc's defaults
# (libcontainer/specconv AllowedDevices): mknod of any device (c *:* m,
# b *:* m), the standard nodes, /dev/pts/*, /dev/ptmx, /dev/net/tun (10:200).
# Engines rely on these: dockerd's spec itself allows only 1:3,1:5,1:8,1:9,5:0,5:1.
# DEVS runs in the container (with CAP_MKNOD) and prints what it could do.
DEVS='r=; mknod /tmp/mem c 1 1 && r="$r mknod-ok"; head -c 1 /tmp/mem >/dev/null 2>&1 || r="$r read-denied"; mknod /tmp/tun c 10 200 && (: </tmp/tun) 2>/dev/null && r="$r tun-open"; echo $r'
DEVS_WANT='mknod-ok read-denied tun-open'

# cg_children PARENT: container cgroups below PARENT in any controller
# (podman's own "conmon" cgroup excepted)
cg_children() { find /sys/fs/cgroup/*/"$1" -mindepth 1 -maxdepth 1 -type d ! -name conmon 2>/dev/null | sort; }

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
  set +e
  log "cleanup"
  if [[ -n ${PODMAN_OK:-} ]]; then
    pm rm -af -t 0 >/dev/null 2>&1
    pm system reset -f >/dev/null 2>&1 # drops storage mounts under $T
  fi
  if [[ -S $T/docker/docker.sock ]]; then
    dk rm -f $(dk ps -aq 2>/dev/null) >/dev/null 2>&1
  fi
  if [[ -S $T/containerd/containerd.sock ]]; then
    for id in $(cr task ls -q 2>/dev/null); do cr task kill -s KILL "$id"; cr task delete -f "$id"; done >/dev/null 2>&1
    for id in $(cr container ls -q 2>/dev/null); do cr container delete "$id"; done >/dev/null 2>&1
  fi
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  # shims and conmons whose sockets/state live under $T (started by us)
  for p in $(pgrep -f "containerd-shim-runc-v2 .*$T|conmon .*$T" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  # every mount below $T, deepest first
  awk -v t="$T" 'index($2, t"/")==1 || $2==t {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null
  done
  if [[ -n $KEEP ]]; then
    log "kept $T"
  else
    rm -rf "$T"
  fi
  for p in "${NEW_CG[@]}"; do
    [[ -d $p ]] && find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  for p in "${NEW_PATHS[@]}"; do
    # berth keeps caches (.seccomp programs, .exe-lower) in its root
    [[ $p == /run/berth ]] && rm -rf /run/berth/runc/.seccomp /run/berth/runc/.exe-lower
    [[ -d $p ]] && find "$p" -depth -type d -empty -delete 2>/dev/null
    [[ -e $p ]] && log "left on the host: $p ($(find "$p" | head -n 5 | tr '\n' ' '))"
  done
  ((had_libpod_lock)) || rm -f /dev/shm/libpod_lock
}
KEEP=${KEEP:-}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check NAME WANT CMD...: run CMD (with a timeout); PASS when it exits 0 and its
# stdout+stderr contains WANT (an extended regexp; "" = any output).
# WANT "rc=N" instead means: PASS when CMD exits with status N; WANT "!RE":
# PASS when the output does not match RE (whatever the exit status).
check() {
  local name=$1 want=$2 out rc ok=0
  shift 2
  # bash -c so that CMD may be one of the exported helper functions
  # (output to a file, not $(...): a stuck grandchild holding the pipe open
  # after the timeout would block the whole script)
  timeout -k 5 "$TIMEOUT" bash -c '"$@"' _ "$@" >"$T/check.out" 2>&1 </dev/null
  rc=$?
  out=$(<"$T/check.out")
  if [[ $want == rc=* ]]; then
    [[ $rc == "${want#rc=}" ]] && ok=1
  elif [[ $want == !* ]]; then
    grep -Eq -- "${want#!}" <<<"$out" || ok=1
  elif ((rc == 0)) && { [[ -z $want ]] || grep -Eq -- "$want" <<<"$out"; }; then
    ok=1
  fi
  if ((ok)); then
    npass=$((npass + 1))
    echo "PASS $name ($RTNAME)"
    [[ -n ${VERBOSE:-} ]] && sed 's/^/    | /' <<<"$out"
  else
    nfail=$((nfail + 1))
    echo "FAIL $name ($RTNAME): exit $rc, want ${want:-exit 0}"
    sed 's/^/    | /' <<<"$out" | tail -n 25
  fi
  return $((1 - ok))
}

# runtime_logs DIR: print the runtime --log files the engines left under DIR
# (what berth/runc wrote to --log), to diagnose a failure.
runtime_logs() {
  local f
  find "$1" \( -name log.json -o -name oci-log \) -size +0 2>/dev/null | while read -r f; do
    echo "    -- runtime log $f"
    tail -n 15 "$f" | sed 's/^/    | /'
  done
}

# --- image -----------------------------------------------------------------
# One-layer busybox image as an OCI layout (umoci) and a docker-archive
# (skopeo), which podman load, ctr image import and docker load all read.
mk_image() {
  local d=$T/image
  mkdir -p "$d"
  lb_busybox_rootfs "$d/rootfs" || return 1
  umoci init --layout "$d/oci" &&
    umoci new --image "$d/oci:latest" &&
    umoci insert --rootless=false --image "$d/oci:latest" "$d/rootfs" / >/dev/null &&
    umoci config --image "$d/oci:latest" --config.cmd /bin/sh \
      --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --os linux --architecture amd64 &&
    skopeo copy -q "oci:$d/oci:latest" "docker-archive:$d/busybox.tar:$IMG" ||
    { log "image: umoci/skopeo failed"; return 1; }
}

# --- podman ----------------------------------------------------------------
pm() {
  podman --root "$T/podman/root" --runroot "$T/podman/runroot" --tmpdir "$T/podman/tmp" \
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file \
    --network-config-dir "$T/podman/net" --runtime "$RUNTIME" "$@"
}

run_podman() {
  local P=$T/podman
  mkdir -p "$P"/{root,runroot,tmp,net}
  # This host's hard nofile limit is 20000 (podman's default asks 1048576),
  # and no systemd: cgroupfs, file events, no healthcheck timers.
  cat >"$P/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
log_driver = "k8s-file"
init_path = "/usr/bin/catatonit"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
runtime = "$RTNAME"
[engine.runtimes]
$RTNAME = ["$RUNTIME"]
EOF
  export CONTAINERS_CONF=$P/containers.conf
  export CONTAINERS_STORAGE_CONF=$P/storage.conf
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' "$P/runroot" "$P/root" >"$CONTAINERS_STORAGE_CONF"
  export CONTAINERS_REGISTRIES_CONF=$P/registries.conf
  : >"$CONTAINERS_REGISTRIES_CONF"
  PODMAN_OK=1

  local cg_before
  cg_before=$(cg_children libpod_parent)
  check podman/load "" pm load -i "$T/image/busybox.tar" || { runtime_logs "$P"; return; }
  check podman/run-echo '^hello$' pm run --rm "$IMG" echo hello || runtime_logs "$P"
  check podman/exit-code rc=3 pm run --rm "$IMG" sh -c 'exit 3'
  check podman/run-d "" pm run -d --name pd "$IMG" sleep 1000 || runtime_logs "$P"
  # the container really is the runtime under test's. (podman leaves the
  # runtime at its default --root: its exit command, "podman container
  # cleanup", does not carry --runtime-flag, so a private root would leave
  # the runtime state of stopped containers behind.)
  check podman/runtime-state '"status": *"running"' "$RUNTIME" state "$(pm inspect -f '{{.Id}}' pd 2>/dev/null)"
  check podman/exec '^in-exec$' pm exec pd echo in-exec || runtime_logs "$P"
  check podman/exec-exit-code rc=4 pm exec pd sh -c 'exit 4'
  check podman/exec-not-found rc=127 pm exec pd /nonexistent
  check podman/top 'sleep 1000' pm top pd || runtime_logs "$P"
  check podman/pause "" pm pause pd || runtime_logs "$P"
  check podman/paused-state '^paused$' pm inspect -f '{{.State.Status}}' pd
  check podman/unpause "" pm unpause pd || runtime_logs "$P"
  check podman/exec-after-unpause '^ok$' pm exec pd echo ok
  check podman/stop "" pm stop -t 2 pd || runtime_logs "$P"
  check podman/stopped-state '^exited$' pm inspect -f '{{.State.Status}}' pd
  check podman/rm "" pm rm pd
  check podman/tty '/dev/pts/0' script -qec "$(printf '%q ' podman --root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp" \
    --cgroup-manager cgroupfs --events-backend file --network-config-dir "$P/net" --runtime "$RUNTIME" \
    run --rm -it "$IMG" sh -c 'tty; sleep 0.3')" /dev/null || runtime_logs "$P"
  check podman/memory '^67108864$' pm run --rm --memory 64m "$IMG" \
    sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' || runtime_logs "$P"
  check podman/pids-limit '^42$' pm run --rm --pids-limit 42 "$IMG" \
    sh -c 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max' || runtime_logs "$P"
  check podman/env-workdir-user '^65534 /tmp FOO=bar$' pm run --rm -u 65534 -w /tmp -e FOO=bar "$IMG" \
    sh -c 'echo "$(id -u) $(pwd) FOO=$FOO"'
  check podman/rootfs-readonly 'Read-only file system' pm run --rm --read-only "$IMG" sh -c 'touch /x; true'
  check podman/stdin '^from-stdin$' bash -c 'printf "from-stdin\n" | pm run -i --rm "$IMG" cat'
  check podman/caps-drop-all 'CapEff:[[:space:]]+0000000000000000' pm run --rm --cap-drop all "$IMG" grep CapEff /proc/self/status
  check podman/caps-default 'CapEff:[[:space:]]+00000000a80425fb' pm run --rm "$IMG" grep CapEff /proc/self/status
  # engines grant at most the host's bounding set: this host's root lacks
  # CAP_SYS_RESOURCE, so "all" is 000001fffeffffff here
  check podman/privileged "CapEff:[[:space:]]+0*$BND" pm run --rm --privileged "$IMG" grep CapEff /proc/self/status
  check podman/seccomp 'Seccomp:[[:space:]]+2' pm run --rm "$IMG" grep Seccomp: /proc/self/status
  check podman/seccomp-unconfined 'Seccomp:[[:space:]]+0' pm run --rm --security-opt seccomp=unconfined "$IMG" grep Seccomp: /proc/self/status
  check podman/no-new-privs 'NoNewPrivs:[[:space:]]+1' pm run --rm --security-opt no-new-privileges "$IMG" grep NoNewPrivs /proc/self/status
  mkdir -p "$P/vol"
  check podman/volume '^vol-ok$' bash -c "pm run --rm -v $P/vol:/data $IMG sh -c 'echo vol-ok > /data/f' && cat $P/vol/f"
  check podman/tmpfs 'tmpfs /scratch tmpfs' pm run --rm --tmpfs /scratch:size=1m "$IMG" grep /scratch /proc/mounts
  check podman/ulimit '^123 456$' pm run --rm --ulimit nofile=123:456 --ulimit nproc=32768:32768 "$IMG" sh -c 'echo $(ulimit -Sn) $(ulimit -Hn)'
  check podman/hostname '^box1$' pm run --rm --hostname box1 "$IMG" hostname
  check podman/userns '^ *0 +100000 +65536$' pm run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" cat /proc/self/uid_map
  check podman/init '^(podman-init|catatonit)$' pm run --rm --init "$IMG" cat /proc/1/comm
  check podman/pid-host "^$(cat /proc/1/comm)\$" pm run --rm --pid host "$IMG" cat /proc/1/comm
  check podman/oom-exit-137 rc=137 pm run --rm --memory 16m --memory-swap 16m "$IMG" sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
  check podman/signal-run-d "" pm run -d --name psig "$IMG" sh -c 'trap "echo got-usr1; exit 0" USR1; while :; do sleep 0.1; done'
  sleep 0.5
  check podman/kill-usr1 "" pm kill -s USR1 psig
  check podman/wait-after-signal '^0$' pm wait psig
  check podman/logs '^got-usr1$' pm logs psig
  pm rm -f psig >/dev/null 2>&1
  check podman/run-d-2 "" pm run -d --name p2 "$IMG" sleep 1000
  check podman/exec-tty '/dev/pts/[0-9]+' script -qec "$(printf '%q ' podman --root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp" \
    --cgroup-manager cgroupfs --events-backend file --network-config-dir "$P/net" --runtime "$RUNTIME" \
    exec -it p2 sh -c 'tty; sleep 0.3')" /dev/null
  check podman/exec-user-env-cwd '^65534 /tmp b$' pm exec -u 65534 -w /tmp -e A=b p2 sh -c 'echo $(id -u) $(pwd) $A'
  check podman/update-memory "" pm update --memory 128m p2
  check podman/updated-limit '^134217728$' pm exec p2 cat /sys/fs/cgroup/memory/memory.limit_in_bytes
  check podman/restart "" pm restart -t 1 p2
  check podman/running-after-restart '^running$' pm inspect -f '{{.State.Status}}' p2
  check podman/pid-container 'sleep 1000' pm run --rm --pid container:p2 "$IMG" ps
  check podman/ipc-net-container '^ok$' pm run --rm --ipc container:p2 --network container:p2 "$IMG" echo ok
  pm rm -f -t 0 p2 >/dev/null 2>&1
  check podman/masked-readonly-paths '^/proc/timer_list ro-sys$' pm run --rm "$IMG" \
    sh -c 'echo $(grep -o " /proc/timer_list " /proc/mounts) $(grep -q " /proc/sys [a-z]* ro," /proc/mounts && echo ro-sys)'
  check podman/cpuset-oom-score '^0 500$' pm run --rm --cpuset-cpus 0 --oom-score-adj 500 "$IMG" \
    sh -c 'echo $(cat /sys/fs/cgroup/cpuset/cpuset.cpus) $(cat /proc/self/oom_score_adj)'
  check podman/group-add '^1000 1000 10 1000$|^1000 1000 1000 10$' pm run --rm --user 1000:1000 --group-add 10 "$IMG" sh -c 'echo $(id -u) $(id -g) $(id -G)'
  check podman/bind-ro '^ro-ok$' pm run --rm -v "$P/vol:/data:ro" "$IMG" sh -c '! touch /data/x 2>/dev/null && cat /data/f >/dev/null && echo ro-ok'
  check podman/shm-size '^1024$' pm run --rm --shm-size 1m "$IMG" sh -c "df -k /dev/shm | awk 'NR==2{print \$2}'"
  check podman/big-stdout '^5000000$' bash -c 'pm run --rm "$IMG" head -c 5000000 /dev/zero | wc -c'
  check podman/not-found rc=127 pm run --rm "$IMG" /nonexistent
  # after a failed create podman runs "RUNTIME delete --force ID" on a
  # container the runtime never recorded: runc exits 0 there, silently
  check podman/not-found-clean-delete '!does not exist' pm run --rm "$IMG" /nonexistent
  check podman/not-executable rc=126 pm run --rm "$IMG" /etc/passwd
  check podman/run-d-3 "" pm run -d --name p3 "$IMG" sleep 1000
  p3id=$(pm inspect -f '{{.Id}}' p3 2>/dev/null)
  check podman/rm-force-running "" pm rm -f -t 0 p3
  check podman/runtime-state-gone '^gone$' bash -c '"$RUNTIME" state '"$p3id"' >/dev/null 2>&1 && echo left || echo gone'
  check podman/devices-cgroup "^$DEVS_WANT\$" pm run --rm --cap-add MKNOD "$IMG" sh -c "$DEVS"
  check podman/preserve-fds '^via-fd3$' bash -c 'pm run --rm --preserve-fds 1 "$IMG" sh -c "echo via-fd3 >&3" 3>"$T/podman/fd3" && cat "$T/podman/fd3"'
  # the runtime, not podman, runs OCI hooks: prestart and poststop get the
  # container state on stdin
  mkdir -p "$P/hooks"
  printf '#!/bin/sh\ncat > "%s/hook-$1.json"\n' "$P" >"$P/hook.sh"
  chmod +x "$P/hook.sh"
  printf '{"version":"1.0.0","hook":{"path":"%s","args":["hook.sh","%s"]},"when":{"always":true},"stages":["%s"]}\n' \
    "$P/hook.sh" prestart prestart >"$P/hooks/pre.json"
  printf '{"version":"1.0.0","hook":{"path":"%s","args":["hook.sh","%s"]},"when":{"always":true},"stages":["%s"]}\n' \
    "$P/hook.sh" poststop poststop >"$P/hooks/post.json"
  check podman/hooks-run '^hooked$' pm --hooks-dir "$P/hooks" run --rm "$IMG" echo hooked
  check podman/hook-prestart-state '^(created|creating) true$' jq -r '"\(.status) \(.pid > 0)"' "$P/hook-prestart.json"
  check podman/hook-poststop-state '^stopped$' jq -r .status "$P/hook-poststop.json"
  printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}\n' >"$P/seccomp.json"
  check podman/seccomp-custom-errno 'Permission denied' bash -c 'pm run --rm --security-opt seccomp="$T/podman/seccomp.json" "$IMG" mkdir /tmp/x; true'
  check podman/repeat-20 '^20$' bash -c 'n=0; for i in $(seq 20); do pm run --rm "$IMG" true && n=$((n+1)); done; echo $n'
  pm rm -af -t 0 >/dev/null 2>&1
  # every container is gone: so must be their cgroups (the runtime's delete)
  check podman/cgroups-removed '!/sys/fs/cgroup' echo "$(comm -13 <(echo "$cg_before") <(cg_children libpod_parent))"
}

# --- containerd --------------------------------------------------------------
cr() { ctr --address "$T/containerd/containerd.sock" --namespace berth-engines "$@"; }
# ctr_run RUN-ARGS...: ctr run with the runtime under test and a private state root
ctr_run() { cr run --runc-binary "$RUNTIME" --runc-root "$T/containerd/rt" --fifo-dir "$T/containerd/fifo" "$@"; }

# wait_for REGEXP CMD...: rerun CMD (up to 10 s) until its output matches.
wait_for() {
  local re=$1 out
  shift
  for _ in $(seq 50); do
    out=$("$@" 2>&1) && grep -Eq -- "$re" <<<"$out" && break
    sleep 0.2
  done
  printf '%s\n' "$out"
}

wait_sock() { # wait_sock SOCKET PID NAME
  for _ in $(seq 150); do
    [[ -S $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || { log "$3 exited"; return 1; }
    sleep 0.2
  done
  log "$3: no socket $1 after 30s"
  return 1
}

run_containerd() {
  local C=$T/containerd
  mkdir -p "$C"/{root,state,opt}
  cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
plugin_dir = "$C/plugins"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
[debug]
  address = "$C/debug.sock"
  level = "debug"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
[plugins."io.containerd.runtime.v2.task"]
  platforms = ["linux/amd64"]
EOF
  containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
  PIDS+=($!)
  if ! wait_sock "$C/containerd.sock" $! containerd; then
    nfail=$((nfail + 1)); echo "FAIL containerd/start ($RTNAME)"; tail -n 20 "$C/containerd.log"; return
  fi
  local cg_before
  cg_before=$(cg_children berth-engines)
  check containerd/import "" cr image import "$T/image/busybox.tar" || return
  check containerd/run-echo '^hello$' ctr_run --rm "$IMG" c-echo echo hello ||
    { runtime_logs "$C/state"; grep -iE 'error|level=warn' "$C/containerd.log" | tail -n 8; }
  check containerd/exit-code rc=3 ctr_run --rm "$IMG" c-exit sh -c 'exit 3'
  check containerd/run-d "" ctr_run -d "$IMG" c-d sleep 1000 || runtime_logs "$C/state"
  check containerd/task-running 'c-d +[0-9]+ +RUNNING' cr task ls
  # the runc shim appends the namespace to --runc-root
  check containerd/runtime-state '"status": *"running"' "$RUNTIME" --root "$C/rt/berth-engines" state c-d
  check containerd/exec '^in-exec$' cr task exec --fifo-dir "$C/fifo" --exec-id e1 c-d echo in-exec || runtime_logs "$C/state"
  check containerd/exec-exit-code rc=4 cr task exec --fifo-dir "$C/fifo" --exec-id e2 c-d sh -c 'exit 4'
  check containerd/ps 'c-d|[0-9]' cr task ps c-d
  check containerd/pause "" cr task pause c-d || runtime_logs "$C/state"
  check containerd/paused 'c-d +[0-9]+ +PAUSED' cr task ls
  check containerd/resume "" cr task resume c-d || runtime_logs "$C/state"
  check containerd/kill "" cr task kill -s KILL c-d || runtime_logs "$C/state"
  check containerd/stopped 'c-d +[0-9]+ +STOPPED' wait_for 'c-d.*STOPPED' cr task ls
  check containerd/task-delete "" cr task delete c-d || runtime_logs "$C/state"
  check containerd/container-delete "" cr container delete c-d
  # (no stdin check: ctr 1.6 run does not close the task's stdin at EOF, with runc too)
  check containerd/env-cwd '^/tmp b$' ctr_run --rm --env A=b --cwd /tmp "$IMG" c-u sh -c 'echo $(pwd) $A'
  check containerd/userns '^ *0 +100000 +65536$' ctr_run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" c-userns cat /proc/self/uid_map
  check containerd/privileged "CapEff:[[:space:]]+0*$BND" ctr_run --rm --privileged "$IMG" c-priv grep CapEff /proc/self/status
  check containerd/seccomp 'Seccomp:[[:space:]]+2' ctr_run --rm --seccomp "$IMG" c-sec grep Seccomp: /proc/self/status
  check containerd/readonly 'Read-only file system' ctr_run --rm --read-only "$IMG" c-ro sh -c 'touch /x; true'
  check containerd/run-d-2 "" ctr_run -d "$IMG" c-2 sleep 1000
  check containerd/exec-tty '/dev/pts/[0-9]+' script -qec "ctr --address $C/containerd.sock --namespace berth-engines task exec -t --fifo-dir $C/fifo --exec-id et c-2 tty" /dev/null
  check containerd/metrics 'memory|pids' cr task metrics c-2
  cr task exec -d --fifo-dir "$C/fifo" --exec-id bg c-2 sleep 999 >/dev/null 2>&1
  check containerd/kill-all "" cr task kill -a -s KILL c-2
  check containerd/stopped-after-kill-all 'c-2 +[0-9]+ +STOPPED' wait_for 'c-2.*STOPPED' cr task ls
  cr task delete c-2 >/dev/null 2>&1; cr container delete c-2 >/dev/null 2>&1
  # a plain directory as rootfs (no snapshotter), runc's --no-pivot, a
  # missing cwd (runc creates it), --pid-file
  check containerd/rootfs-dir '^rootfs-ok$' ctr_run --rm --rootfs "$T/image/rootfs" c-rootfs /bin/echo rootfs-ok
  check containerd/no-pivot '^nopivot-ok$' ctr_run --rm --no-pivot "$IMG" c-np echo nopivot-ok
  check containerd/cwd-created '^/new/dir$' ctr_run --rm --cwd /new/dir "$IMG" c-cwd pwd
  check containerd/pid-file '^[0-9]+$' bash -c 'ctr_run --rm --pid-file "$T/containerd/c.pid" "$IMG" c-pf true && cat "$T/containerd/c.pid"'
  check containerd/cap-add '^CapEff:[[:space:]]+00000000a82425fb$' ctr_run --rm --cap-add CAP_SYS_ADMIN "$IMG" c-cap grep CapEff /proc/self/status
  check containerd/parallel-$PAR "^$PAR\$" bash -c 'for i in $(seq $PAR); do ctr_run --rm "$IMG" c-par$i true 2>"$T/containerd/par$i.err" & p+=($!); done; n=0; for j in ${p[@]}; do wait $j && n=$((n+1)); done; echo $n; cat "$T"/containerd/par*.err' || runtime_logs "$C/state"
  check containerd/devices-cgroup "^$DEVS_WANT\$" ctr_run --rm "$IMG" c-dev sh -c "$DEVS"
  # the shim turns the runtime's --log (log.json) into the error it returns
  check containerd/not-found-error 'no such file or directory|not found' bash -c 'ctr_run --rm "$IMG" c-nf /nonexistent; true'
  check containerd/big-stdout '^5000000$' bash -c 'ctr_run --rm "$IMG" c-big head -c 5000000 /dev/zero | wc -c'
  check containerd/tty '/dev/pts/0' script -qec "ctr --address $C/containerd.sock --namespace berth-engines run --rm -t --runc-binary $RUNTIME --runc-root $C/rt --fifo-dir $C/fifo $IMG c-tty tty" /dev/null ||
    runtime_logs "$C/state"
  # ctr's default spec mounts no /sys/fs/cgroup: read the limit from the host
  # (ctr puts the task in cgroup /<namespace>/<id>).
  check containerd/memory-run-d "" ctr_run -d --memory-limit 67108864 "$IMG" c-mem sleep 1000 || runtime_logs "$C/state"
  check containerd/memory '^67108864$' cat /sys/fs/cgroup/memory/berth-engines/c-mem/memory.limit_in_bytes
  cr task kill -s KILL c-mem >/dev/null 2>&1
  wait_for 'c-mem.*STOPPED' cr task ls >/dev/null
  check containerd/memory-delete "" cr task delete c-mem
  check containerd/cgroup-removed '^gone$' sh -c 'test -e /sys/fs/cgroup/memory/berth-engines/c-mem && echo left || echo gone'
  cr container delete c-mem >/dev/null 2>&1
  check containerd/cgroups-removed '!/sys/fs/cgroup' echo "$(comm -13 <(echo "$cg_before") <(cg_children berth-engines))"
}

# --- dockerd -----------------------------------------------------------------
dk() { "$DOCKER" -H "unix://$T/docker/docker.sock" "$@"; }

run_docker() {
  local D=$T/docker
  mkdir -p "$D"/{root,exec}
  # the trust key would go to /etc/docker/key.json otherwise (config-file only)
  printf '{"deprecated-key-path": "%s"}\n' "$D/key.json" >"$D/daemon.json"
  # --bridge=none --iptables=false --ip-forward=false: no docker0, no
  # iptables rules, no sysctl change on the host.
  dockerd --config-file "$D/daemon.json" --data-root "$D/root" --exec-root "$D/exec" \
    --pidfile "$D/docker.pid" -H "unix://$D/docker.sock" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=false --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
    --add-runtime "berth=$RUNTIME" --default-runtime berth --debug \
    >"$D/dockerd.log" 2>&1 &
  PIDS+=($!)
  if ! wait_sock "$D/docker.sock" $! dockerd || ! { for _ in $(seq 50); do dk version >/dev/null 2>&1 && break; sleep 0.2; done; dk version >/dev/null 2>&1; }; then
    nfail=$((nfail + 1)); echo "FAIL docker/start ($RTNAME)"; tail -n 20 "$D/dockerd.log"; return
  fi
  local cg_before
  cg_before=$(cg_children docker)
  check docker/load "" dk load -i "$T/image/busybox.tar" || return
  # image interop: docker save -> berth load, berth save -> docker load -> run
  if [[ -x $BERTH_CLI ]]; then
    check docker/save-load-with-berth '^roundtrip-ok$' image_interop
  fi
  check docker/run-echo '^hello$' dk run --rm --runtime berth --network none "$IMG" echo hello ||
    { runtime_logs "$D"; grep -iE 'level=error' "$D/dockerd.log" | tail -n 8; }
  check docker/exit-code rc=3 dk run --rm --network none "$IMG" sh -c 'exit 3'
  check docker/run-d "" dk run -d --name dd --network none "$IMG" sleep 1000 || runtime_logs "$D"
  # dockerd 20.10 gives every runc-type runtime the root <exec-root>/runtime-runc
  check docker/runtime-state '"status": *"running"' "$RUNTIME" --root "$D/exec/runtime-runc/moby" state "$(dk inspect -f '{{.Id}}' dd 2>/dev/null)"
  check docker/exec '^in-exec$' dk exec dd echo in-exec || runtime_logs "$D"
  check docker/exec-exit-code rc=4 dk exec dd sh -c 'exit 4'
  # (dockerd 20.10 answers 126 for any exec failure, with runc too)
  check docker/exec-not-found rc=126 dk exec dd /nonexistent
  check docker/top 'sleep 1000' dk top dd
  check docker/pause "" dk pause dd || runtime_logs "$D"
  check docker/paused '^paused$' dk inspect -f '{{.State.Status}}' dd
  check docker/unpause "" dk unpause dd || runtime_logs "$D"
  check docker/stop "" dk stop -t 2 dd || runtime_logs "$D"
  check docker/stopped '^exited$' dk inspect -f '{{.State.Status}}' dd
  check docker/rm "" dk rm dd
  check docker/stdin '^from-stdin$' bash -c 'printf "from-stdin\n" | dk run -i --rm --network none "$IMG" cat'
  check docker/caps-drop-all 'CapEff:[[:space:]]+0000000000000000' dk run --rm --network none --cap-drop ALL "$IMG" grep CapEff /proc/self/status
  check docker/caps-default 'CapEff:[[:space:]]+00000000a80425fb' dk run --rm --network none "$IMG" grep CapEff /proc/self/status
  # dockerd asks for every capability it knows whatever the host's bounding
  # set (--privileged fails with runc too where root lacks CAP_SYS_RESOURCE)
  if [[ $BND == 1ffffffffff ]]; then
    check docker/privileged "CapEff:[[:space:]]+0*$BND" dk run --rm --network none --privileged "$IMG" grep CapEff /proc/self/status
  else
    # dockerd 20.10 knows capabilities up to CAP_AUDIT_READ (37)
  check docker/cap-add-all "CapEff:[[:space:]]+0*3ffeffffff" dk run --rm --network none --cap-add ALL --cap-drop SYS_RESOURCE "$IMG" grep CapEff /proc/self/status
  fi
  check docker/seccomp 'Seccomp:[[:space:]]+2' dk run --rm --network none "$IMG" grep Seccomp: /proc/self/status
  check docker/no-new-privs 'NoNewPrivs:[[:space:]]+1' dk run --rm --network none --security-opt no-new-privileges "$IMG" grep NoNewPrivs /proc/self/status
  check docker/readonly-tmpfs '^ro-and-tmpfs$' dk run --rm --network none --read-only --tmpfs /scratch "$IMG" \
    sh -c 'grep -q " /scratch tmpfs " /proc/mounts && touch /scratch/ok && ! touch /x 2>/dev/null && echo ro-and-tmpfs'
  mkdir -p "$D/vol"
  check docker/volume '^vol-ok$' bash -c "dk run --rm --network none -v $D/vol:/data $IMG sh -c 'echo vol-ok > /data/f' && cat $D/vol/f"
  check docker/ulimit '^123 456$' dk run --rm --network none --ulimit nofile=123:456 --ulimit nproc=32768:32768 "$IMG" sh -c 'echo $(ulimit -Sn) $(ulimit -Hn)'
  check docker/user-hostname-env '^65534 box1 b$' dk run --rm --network none -u 65534 -h box1 -e A=b "$IMG" sh -c 'echo $(id -u) $(hostname) $A'
  check docker/sysctl '^1$' dk run --rm --network none --sysctl kernel.shm_rmid_forced=1 "$IMG" cat /proc/sys/kernel/shm_rmid_forced
  check docker/cpus '^50000$' dk run --rm --network none --cpus 0.5 "$IMG" cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us
  check docker/cgroupns-private '^0::/$|memory:/$' dk run --rm --network none --cgroupns private "$IMG" cat /proc/self/cgroup
  check docker/pid-host "^$(cat /proc/1/comm)\$" dk run --rm --network none --pid host "$IMG" cat /proc/1/comm
  check docker/init '^docker-init$' dk run --rm --network none --init "$IMG" cat /proc/1/comm
  check docker/device '^c' dk run --rm --network none --device /dev/null:/dev/mynull "$IMG" ls -l /dev/mynull
  check docker/oom-exit-137 rc=137 dk run --name doom --network none --memory 16m --memory-swap 16m "$IMG" sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
  check docker/oom-killed '^true$' dk inspect -f '{{.State.OOMKilled}}' doom
  dk rm -f doom >/dev/null 2>&1
  check docker/run-d-2 "" dk run -d --name d2 --network none "$IMG" sh -c 'trap "echo got-usr1" USR1; while :; do sleep 0.1; done'
  check docker/exec-tty '/dev/pts/[0-9]+' script -qec "$DOCKER -H unix://$D/docker.sock exec -it d2 tty" /dev/null
  # exec -t in a container sharing the host's pid namespace (no fork in
  # the runtime's namespace entering)
  check docker/run-d-pid-host "" dk run -d --name d3 --pid host --network none "$IMG" sleep 1000
  check docker/exec-tty-pid-host '/dev/pts/[0-9]+' script -qec "$DOCKER -H unix://$D/docker.sock exec -it d3 tty" /dev/null
  dk rm -f d3 >/dev/null 2>&1
  check docker/kill-usr1 "" dk kill -s USR1 d2
  check docker/logs 'got-usr1' wait_for got-usr1 dk logs d2
  check docker/update-memory "" dk update --memory 128m --memory-swap 256m d2
  check docker/updated-limit '^134217728$' dk exec d2 cat /sys/fs/cgroup/memory/memory.limit_in_bytes
  check docker/update-cpus-pids "" dk update --cpus 0.25 --pids-limit 77 d2
  check docker/updated-cpus-pids '^25000 77$' dk exec d2 sh -c 'echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/pids/pids.max)'
  check docker/stats 'MiB' dk stats --no-stream --format '{{.MemUsage}}' d2
  check docker/restart "" dk restart -t 1 d2
  check docker/running-after-restart '^running$' dk inspect -f '{{.State.Status}}' d2
  check docker/exec-after-restart '^ok$' dk exec d2 echo ok
  d2id=$(dk inspect -f '{{.Id}}' d2 2>/dev/null)
  check docker/net-pid-container 'sleep|trap' dk run --rm --network container:d2 --pid container:d2 "$IMG" ps
  check docker/rm-force-running "" dk rm -f d2
  check docker/runtime-state-gone '^gone$' bash -c '"$RUNTIME" --root "$T/docker/exec/runtime-runc/moby" state '"$d2id"' >/dev/null 2>&1 && echo left || echo gone'
  check docker/masked-readonly-paths '^/proc/timer_list ro-sys$' dk run --rm --network none "$IMG" \
    sh -c 'echo $(grep -o " /proc/timer_list " /proc/mounts) $(grep -q " /proc/sys [a-z]* ro," /proc/mounts && echo ro-sys)'
  check docker/shm-size '^1024$' dk run --rm --network none --shm-size 1m "$IMG" sh -c "df -k /dev/shm | awk 'NR==2{print \$2}'"
  check docker/big-stdout '^5000000$' bash -c 'dk run --rm --network none "$IMG" head -c 5000000 /dev/zero | wc -c'
  check docker/not-found rc=127 dk run --rm --network none "$IMG" /nonexistent
  check docker/not-executable rc=126 dk run --rm --network none "$IMG" /etc/passwd
  printf '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}\n' >"$D/seccomp.json"
  check docker/seccomp-custom-errno 'Permission denied' bash -c 'dk run --rm --network none --security-opt seccomp="$T/docker/seccomp.json" "$IMG" mkdir /tmp/x; true'
  check docker/seccomp-blocks-unshare 'Operation not permitted' bash -c 'dk run --rm --network none "$IMG" unshare -U true; true'
  check docker/seccomp-unconfined-unshare '^unshared$' dk run --rm --network none --security-opt seccomp=unconfined "$IMG" sh -c 'unshare -U true && echo unshared'
  # enforcement, not only the limit files: the devices cgroup refuses
  # /dev/mem (c 1:1) even to a process that may mknod it, pids.max stops fork
  check docker/devices-cgroup "^$DEVS_WANT\$" dk run --rm --network none "$IMG" sh -c "$DEVS"
  check docker/pids-limit-enforced "can't fork|Resource temporarily unavailable" bash -c 'dk run --rm --network none --pids-limit 5 "$IMG" sh -c "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait"; true'
  check docker/cpu-shares '^512$' dk run --rm --network none --cpu-shares 512 "$IMG" cat /sys/fs/cgroup/cpu/cpu.shares
  check docker/parallel-$PAR "^$PAR\$" bash -c 'for i in $(seq $PAR); do dk run --rm --network none "$IMG" true 2>"$T/docker/par$i.err" & p+=($!); done; n=0; for j in ${p[@]}; do wait $j && n=$((n+1)); done; echo $n; cat "$T"/docker/par*.err'
  check docker/restart-policy '^[1-9]' bash -c 'dk run -d --name drp --network none --restart always "$IMG" sh -c "sleep 0.3; exit 1" >/dev/null; sleep 4; dk inspect -f "{{.RestartCount}}" drp; dk rm -f drp >/dev/null'
  check docker/wait-exit-code '^5$' bash -c 'dk run -d --name dw --network none "$IMG" sh -c "sleep 0.2; exit 5" >/dev/null && dk wait dw; dk rm dw >/dev/null'
  check docker/tty '/dev/pts/0' script -qec "$DOCKER -H unix://$D/docker.sock run --rm -it --network none $IMG tty" /dev/null ||
    runtime_logs "$D"
  check docker/memory-pids '^67108864 42$' dk run --rm --network none --memory 64m --pids-limit 42 "$IMG" \
    sh -c 'echo $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) $(cat /sys/fs/cgroup/pids/pids.max)'
  dk rm -f $(dk ps -aq) >/dev/null 2>&1
  check docker/cgroups-removed '!/sys/fs/cgroup' echo "$(comm -13 <(echo "$cg_before") <(cg_children docker))"
}

# docker save | berth load, then berth save | docker load, and run the result
image_interop() {
  local b=("$BERTH_CLI" --root "$T/berth-images" --runroot "$T/berth-images-run")
  dk save -o "$T/dsave.tar" "$IMG" &&
    "${b[@]}" load -i "$T/dsave.tar" >/dev/null &&
    "${b[@]}" tag "$IMG" docker.io/berth-engines/roundtrip:1 &&
    "${b[@]}" save -o "$T/bsave.tar" docker.io/berth-engines/roundtrip:1 &&
    dk load -i "$T/bsave.tar" >/dev/null &&
    dk run --rm --network none docker.io/berth-engines/roundtrip:1 echo roundtrip-ok
}
BERTH_CLI=${BERTH_CLI:-$REPO/bin/berth}
export T RUNTIME DOCKER IMG PAR BERTH_CLI
export -f pm cr ctr_run dk wait_for image_interop

log "runtime $RUNTIME, engines: $ENGINES, temp $T"
if ! mk_image; then
  echo "FAIL image ($RTNAME)"
  nfail=$((nfail + 1))
else
  for e in $ENGINES; do
    case $e in
      podman) run_podman ;;
      containerd) run_containerd ;;
      docker) run_docker ;;
      *) echo "engines.sh: unknown engine $e" >&2; nfail=$((nfail + 1)) ;;
    esac
  done
fi
echo "engines: $npass passed, $nfail failed ($RUNTIME)"
((nfail == 0))
