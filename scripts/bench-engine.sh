#!/usr/bin/env bash
# bench-engine.sh - berth's engine against podman on the same busybox image,
# interleaved container by container (berth, podman, berth, podman, ...):
#   run     `run --rm --network none IMG true`                 (N=50)
#   net     `run --rm IMG true` on each engine's default network (berth's CNI
#           bridge; podman's netavark bridge)
#   split   `create --network none IMG true` + `start -a`, then `rm`
#   shim    Pss of the per-container monitor with 10 idle `sleep 1000`
#           containers: berth's shim vs podman's conmon
# Prints median/min/max ms per container and the berth/podman ratios.
#
# Usage (as root; "make bench-engine" calls it):
#   [N=50] [BERTH=bin/berth] [PODMAN=podman] [RUNTIME_PODMAN=runc] [KEEP=1]
#   [WHAT="run split shim"] scripts/bench-engine.sh
# podman runs as shared/ANCHORS.md measures it: its own root, overlay,
# cgroupfs, file events, the host's nofile limit, runc (RUNTIME_PODMAN=crun
# for crun). berth runs with its own --root/--runroot and defaults.
set -euo pipefail
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib-bundle.sh"
lb_need_root
N=${N:-50}
BERTH=${BERTH:-$repo/bin/berth}
PODMAN=${PODMAN:-podman}
RUNTIME_PODMAN=${RUNTIME_PODMAN:-runc}
WHAT=${WHAT:-run net split shim}
IMG=localhost/bench-busybox:latest
T=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
B=("$BERTH" --root "$T/berth/root" --runroot "$T/berth/run")
P=("$PODMAN" --root "$T/podman/root" --runroot "$T/podman/runroot" --tmpdir "$T/podman/tmp"
   --storage-driver overlay --cgroup-manager cgroupfs --events-backend file
   --network-config-dir "$T/podman/net" --runtime "$RUNTIME_PODMAN")
cleanup() {
  "${B[@]}" system reset -f >/dev/null 2>&1 || true
  "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
  "${P[@]}" network rm -f podman >/dev/null 2>&1 || true
  umount -R "$T"/berth "$T"/podman 2>/dev/null || true
  grep -o " $T[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T"/podman/{root,runroot,tmp,net} "$T/image"
cat >"$T/podman/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/podman/events.log"
CONF
export CONTAINERS_CONF=$T/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$T/podman/storage.conf
printf '[storage]\ndriver = "overlay"\nrunroot = "%s"\ngraphroot = "%s"\n' "$T/podman/runroot" "$T/podman/root" >"$CONTAINERS_STORAGE_CONF"
export CONTAINERS_REGISTRIES_CONF=$T/podman/registries.conf
: >"$CONTAINERS_REGISTRIES_CONF"

# The image: busybox-static, one layer, CMD sh; loaded into both stores.
d=$T/image
lb_busybox_rootfs "$d/rootfs"
umoci init --layout "$d/oci" >/dev/null
umoci new --image "$d/oci:latest" >/dev/null
umoci insert --rootless=false --image "$d/oci:latest" "$d/rootfs" / >/dev/null
umoci config --image "$d/oci:latest" --config.cmd /bin/sh \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --os linux --architecture amd64 >/dev/null
skopeo copy -q "oci:$d/oci:latest" "docker-archive:$d/busybox.tar:$IMG"
"${B[@]}" load -q -i "$d/busybox.tar" >/dev/null
"${P[@]}" load -q -i "$d/busybox.tar" >/dev/null
# warm both (first run pays one-time setup: snapshot dirs, podman's db)
"${B[@]}" run --rm --network none "$IMG" true
"${P[@]}" run --rm --network none "$IMG" true

now() { echo "${EPOCHREALTIME/./}"; }
stats() { # name file -> "median min max" ms
  sort -n "$2" | awk -v n="$1" '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2;
    printf "%-26s n=%d median=%.1f min=%.1f max=%.1f ms\n", n, NR, m/1000, a[1]/1000, a[NR]/1000}'
}
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" -v l="$3" 'BEGIN {printf "RATIO %-22s berth/podman = %.3f\n", l, a/b}'; }

if [[ " $WHAT " == *" run "* ]]; then
  : >"$T/run.berth"; : >"$T/run.podman"
  for ((i = 0; i < N; i++)); do
    t0=$(now); "${B[@]}" run --rm --network none "$IMG" true; t1=$(now); echo $((t1 - t0)) >>"$T/run.berth"
    t0=$(now); "${P[@]}" run --rm --network none "$IMG" true; t1=$(now); echo $((t1 - t0)) >>"$T/run.podman"
  done
  stats "berth run --rm" "$T/run.berth"; stats "podman run --rm" "$T/run.podman"
  ratio "$T/run.berth" "$T/run.podman" "run --rm --network none"
fi

if [[ " $WHAT " == *" net "* ]]; then
  : >"$T/net.berth"; : >"$T/net.podman"
  "${B[@]}" run --rm "$IMG" true; "${P[@]}" run --rm "$IMG" true # networks made on first use
  for ((i = 0; i < N; i++)); do
    t0=$(now); "${B[@]}" run --rm "$IMG" true; t1=$(now); echo $((t1 - t0)) >>"$T/net.berth"
    t0=$(now); "${P[@]}" run --rm "$IMG" true; t1=$(now); echo $((t1 - t0)) >>"$T/net.podman"
  done
  stats "berth run --rm (bridge)" "$T/net.berth"; stats "podman run --rm (bridge)" "$T/net.podman"
  ratio "$T/net.berth" "$T/net.podman" "run --rm default network"
fi

if [[ " $WHAT " == *" split "* ]]; then
  for f in cs.berth cs.podman rm.berth rm.podman; do : >"$T/$f"; done
  for ((i = 0; i < N; i++)); do
    for tool in berth podman; do
      if [[ $tool == berth ]]; then X=("${B[@]}"); else X=("${P[@]}"); fi
      t0=$(now); id=$("${X[@]}" create --network none "$IMG" true); "${X[@]}" start -a "$id"; t1=$(now)
      "${X[@]}" rm "$id" >/dev/null; t2=$(now)
      echo $((t1 - t0)) >>"$T/cs.$tool"; echo $((t2 - t1)) >>"$T/rm.$tool"
    done
  done
  stats "berth create+start -a" "$T/cs.berth"; stats "podman create+start -a" "$T/cs.podman"
  stats "berth rm" "$T/rm.berth"; stats "podman rm" "$T/rm.podman"
  ratio "$T/cs.berth" "$T/cs.podman" "create+start -a"
  ratio "$T/rm.berth" "$T/rm.podman" "rm"
fi

if [[ " $WHAT " == *" shim "* ]]; then
  for ((i = 0; i < 10; i++)); do
    "${B[@]}" run -d --network none "$IMG" sleep 1000 >/dev/null
    "${P[@]}" run -d --network none "$IMG" sleep 1000 >/dev/null
  done
  sleep 1
  pss() { local s=0 n=0; for p in "$@"; do v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"); s=$((s + v)); n=$((n + 1)); done
          echo "$s $n"; }
  shims=$(pgrep -f '^berth-shim' || true)
  conmons=$(pgrep -x conmon || true)
  read -r bs bn < <(pss $shims); read -r cs cn < <(pss $conmons)
  printf 'SHIM berth-shim n=%d Pss_each=%d kB | conmon n=%d Pss_each=%d kB\n' "$bn" $((bs / (bn ? bn : 1))) "$cn" $((cs / (cn ? cn : 1)))
  awk -v a=$((bs / (bn ? bn : 1))) -v b=$((cs / (cn ? cn : 1))) 'BEGIN {printf "RATIO %-22s berth/conmon = %.3f\n", "shim Pss", a/b}'
fi
exit 0
}
