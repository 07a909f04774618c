#!/usr/bin/env bash
# bench-pull.sh - cold pull + unpack of the same images from a local registry:
# berth (EROFS snapshotter, and overlay) against podman, interleaved, in one
# run. Prints seconds per tool and the berth/podman ratio per image.
#
# The image corpus is shared/bench/images/make-test-images.sh's (reproducible,
# offline): built once under $TOP (debootstrap needs the apt mirror), served by
# distribution on 127.0.0.1:5000. Every run is cold: the previous copy is
# removed (berth: image prune -a, then the root; podman: rmi -af) and `sync`
# runs before the clock starts. Registry blobs stay in the page cache.
#
# Knobs (environment): RUNS=3  IMAGES="busybox:latest debian:layers big:latest"
#   TOP=/tmp/images  BERTH=bin/berth  SNAPSHOTTERS="erofs overlay"
#   MKIMAGES=path/to/make-test-images.sh  PODMAN=podman (PODMAN= to skip it)
# Output: a table on stdout; every run in $TOP/bench-berth/results.csv.
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
TOP=${TOP:-/tmp/images}
RUNS=${RUNS:-3}
IMAGES=${IMAGES:-"busybox:latest debian:layers big:latest"}
BERTH=${BERTH:-$here/../bin/berth}
SNAPSHOTTERS=${SNAPSHOTTERS:-"erofs overlay"}
PODMAN=${PODMAN-podman}
MKIMAGES=${MKIMAGES:-$here/../../shared/bench/images/make-test-images.sh}
[ -f "$MKIMAGES" ] || MKIMAGES=/work/shared/bench/images/make-test-images.sh
REG=127.0.0.1:5000
B=$TOP/bench-berth
CSV=$B/results.csv

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (mounts)"
[ -x "$BERTH" ] || die "no berth binary at $BERTH (make build)"
if [ -n "$PODMAN" ] && ! command -v "$PODMAN" >/dev/null; then
  die "podman not installed (apt-get install podman, or PODMAN= to leave it out)"
fi

# podman as shared/ANCHORS.md runs it on these hosts: private storage under
# $TOP, native overlay, cgroupfs, no systemd/journald.
P=("$PODMAN" --root "$TOP/podman/root" --runroot "$TOP/podman/run" --tmpdir "$TOP/podman/tmp"
   --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)

registry_up() { curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null; }
have_image() { curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/test/${1%%:*}/manifests/${1#*:}" 2>/dev/null; }

# The corpus: build what is missing, serve it, push it.
need_build=
for img in $IMAGES; do [ -f "$TOP/oci/${img%%:*}/index.json" ] || need_build=1; done
if [ -n "$need_build" ]; then
  log "building the image corpus under $TOP (once; debootstrap takes minutes)"
  TOP=$TOP NO_ARM64=${NO_ARM64:-1} bash "$MKIMAGES" build
fi
if ! registry_up; then
  TOP=$TOP bash "$MKIMAGES" registry-start
  TOP=$TOP bash "$MKIMAGES" push
fi
for img in $IMAGES; do
  have_image "$img" || { TOP=$TOP bash "$MKIMAGES" push; break; }
done
for img in $IMAGES; do have_image "$img" || die "test/$img is not in the registry on $REG"; done

mkdir -p "$B"
[ -f "$CSV" ] || echo "tool,image,run,wall_s,rc" >"$CSV"
BR=$B/root

berth_clean() {
  if [ -d "$BR" ]; then
    "$BERTH" --root "$BR" image prune -a -f >/dev/null 2>&1 || true
    # whatever is still mounted (an interrupted run) goes before the files
    { grep -o " $BR/[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$BR"
  fi
}
podman_clean() {
  "${P[@]}" rmi -af >/dev/null 2>&1 || true
  [ -z "$("${P[@]}" images -q)" ] || die "podman store not empty after rmi -af"
}

# timed TOOL IMAGE RUN -- command...
timed() {
  local tool=$1 img=$2 run=$3; shift 4
  sync
  local t0 t1 rc=0
  t0=$(date +%s%N)
  "$@" >"$B/last.out" 2>&1 || rc=$?
  t1=$(date +%s%N)
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
  [ "$rc" = 0 ] || { log "FAILED ($rc): $*"; tail -5 "$B/last.out" >&2; }
  echo "$tool,$img,$run,$wall,$rc" >>"$CSV"
  log "$tool $img run $run: ${wall}s"
}

run_tool() { # run_tool TOOL IMAGE RUN
  local tool=$1 img=$2 r=$3 ref=$REG/test/$2
  case "$tool" in
    podman)
      podman_clean
      timed podman "$img" "$r" -- "${P[@]}" pull -q --tls-verify=false "$ref"
      podman_clean ;;
    berth-*)
      berth_clean
      timed "$tool" "$img" "$r" -- "$BERTH" --root "$BR" --snapshotter "${tool#berth-}" pull -q "$ref"
      berth_clean ;;
  esac
}

start=$(wc -l <"$CSV")
tools=()
[ -n "$PODMAN" ] && tools+=(podman)
for s in $SNAPSHOTTERS; do tools+=("berth-$s"); done
for img in $IMAGES; do
  for r in $(seq "$RUNS"); do
    # rotate the order every run so that no tool always goes first
    n=${#tools[@]}
    for i in $(seq 0 $((n - 1))); do
      run_tool "${tools[$(((i + r) % n))]}" "$img" "$r"
    done
  done
done

# the table: median seconds per tool and image, and berth/podman ratios
tail -n +"$((start + 1))" "$CSV" | awk -F, -v tools="${tools[*]}" '
  $5 == 0 { k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $4; if (!($2 in seen)) { seen[$2] = 1; imgs[++ni] = $2 } }
  function med(k,   m, a, b, t) { m = n[k]; if (!m) return -1
    for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
    return (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2 }
  END {
    nt = split(tools, T, " ")
    printf "%-16s", "image"; for (i = 1; i <= nt; i++) printf " %14s", T[i] "_s"
    for (i = 1; i <= nt; i++) if (T[i] != "podman" && tools ~ /podman/) printf " %14s", T[i] "/podman"
    printf "\n"
    for (j = 1; j <= ni; j++) { im = imgs[j]; printf "%-16s", im
      for (i = 1; i <= nt; i++) { m = med(T[i] SUBSEP im); if (m < 0) printf " %14s", "FAIL"; else printf " %14.3f", m; M[i] = m }
      for (i = 1; i <= nt; i++) if (T[i] != "podman" && tools ~ /podman/) {
        p = M[1]; if (p > 0 && M[i] >= 0) printf " %14.2f", M[i] / p; else printf " %14s", "-" }
      printf "\n" } }'
echo "(median of RUNS=$RUNS cold runs each; all runs in $CSV)"
