#!/usr/bin/env bash
# bench-runtime.sh - berth's OCI runtime against runc and crun: N sequential
# containers of /bin/true each, interleaved container by container
# (berth runc crun, runc crun berth, crun berth runc, ...) on one busybox-static bundle, so that
# the drift of a noisy machine hits every runtime alike. Prints per-container
# min/median/max wall ms, mean CPU ms per container, the peak RSS of one
# `run`, and the berth/crun and berth/runc ratios of the same run.
#
# Usage (as root; "make bench-runtime" calls it):
#   [N=100] [MODE=run|split] [BERTH=./bin/berth-runc] [RUNC=/usr/sbin/runc]
#   [CRUN=/usr/bin/crun] [HIDE_CG2=1] [KEEP=1] [TMPDIR=/tmp] scripts/bench-runtime.sh
#   e.g. BERTH=/usr/sbin/runc scripts/bench-runtime.sh    (stand-in while berth is unfinished)
#        BERTH= scripts/bench-runtime.sh                  (empty: runc and crun only)
#        RUNC= CRUN= ...                                  (empty: leave that peer out)
#
# MODE=run    one "RT --root R run --bundle B id" per container (foreground,
#             the runtime waits for the exit and deletes the state itself)
# MODE=split  "RT create --pid-file F --bundle B id", "RT start id", busy-wait
#             (read of /proc/PID/stat, no fork) until the pid is gone or a
#             zombie, "RT delete id"; also prints the median of each phase.
# HIDE_CG2=1 (default) runs everything in a private mount namespace in which
#             /sys/fs/cgroup/unified/cgroup.controllers reads empty: crun 1.8.1
#             refuses this hybrid cgroup host otherwise ("cgroups in hybrid mode
#             not supported"). Every runtime runs under the same view; the host
#             is unchanged. HIDE_CG2=0 to turn it off.
# Timing: bash's EPOCHREALTIME around each command (includes the fork+exec of
# the runtime binary, alike for all). CPU: user+sys of the reaped children
# from /proc/$$/stat (clock ticks, hence a mean over N, not a median).
# Peak RSS: ru_maxrss from wait4 of one `run` (the runtime and the processes
# it reaped, like GNU time's "Maximum resident set size"), median of 3.
# Methodology follows shared/bench/runtime-lifecycle.sh and interleave.sh.
# Nothing stays behind: containers are "delete -f"-ed and the work dir
# ($TMPDIR/berth-bench.XXXXXX) removed on any exit (KEEP=1 keeps it, with the
# raw per-container times in microseconds).
set -euo pipefail
{ # read the whole script before running it: editing it mid-run is then harmless

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lib-bundle.sh
. "$here/lib-bundle.sh"

N=${N:-100}
MODE=${MODE:-run}
HIDE_CG2=${HIDE_CG2:-1}
BERTH=${BERTH-$repo/bin/berth-runc}
RUNC=${RUNC-/usr/sbin/runc}
CRUN=${CRUN-/usr/bin/crun}

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" >&2; exit 2; }
[[ ${1:-} == -h || ${1:-} == --help ]] && usage
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "bench-runtime: N=$N is not a positive integer" >&2; exit 2; }
case $MODE in run | split) ;; *) echo "bench-runtime: MODE=$MODE: want run or split" >&2; exit 2 ;; esac
lb_need_root

labels=() bins=()
add_rt() { # LABEL PATH
  local l=$1 p=$2
  [[ -z $p ]] && return 0
  [[ $p == */* ]] || p=$(command -v "$p" || echo "$p")
  if [[ ! -x $p || -d $p ]]; then
    if [[ $l == berth ]]; then
      echo "bench-runtime: berth runtime binary '$p' is missing or not executable." >&2
      echo "  build it (make build makes ./bin/berth and ./bin/berth-runc), point BERTH=/path/to/berth-runc," >&2
      echo "  use a stand-in (BERTH=/usr/sbin/runc) or leave berth out (BERTH=)." >&2
    else
      echo "bench-runtime: $l binary '$p' is missing or not executable (set ${l^^}=/path, or ${l^^}= to leave it out)" >&2
    fi
    exit 2
  fi
  labels+=("$l")
  bins+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p")")
}
add_rt berth "$BERTH"
add_rt runc "$RUNC"
add_rt crun "$CRUN"
((${#labels[@]})) || { echo "bench-runtime: no runtime to measure" >&2; exit 2; }

if [[ $HIDE_CG2 == 1 && -z ${_LB_CG2_HIDDEN:-} ]]; then
  export N MODE HIDE_CG2 BERTH RUNC CRUN
  lb_hide_cg2_exec "${BASH_SOURCE[0]}" "$@"
fi

cache=${XDG_CACHE_HOME:-$HOME/.cache}/berth/bench
lb_maxrss_tool "$cache"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
B=$WORK/bundle
cleanup() {
  local i
  for i in "${!labels[@]}"; do
    lb_rt_cleanup "${bins[$i]}" "$WORK/state/${labels[$i]}"
  done
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "bench-runtime: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lb_bundle "$B" /bin/true
for i in "${!labels[@]}"; do
  mkdir -p "$WORK/state/${labels[$i]}"
  : > "$WORK/times.${labels[$i]}"
done

tick_ms=$((1000 / $(getconf CLK_TCK)))
# children CPU ticks (cutime + cstime, fields 16 and 17 of /proc/$$/stat)
cpu_ticks() {
  local s f
  read -r s < /proc/$$/stat
  s=${s##*) } # past "pid (comm) "; fields now start at 3
  read -r -a f <<< "$s"
  REPLY=$((f[13] + f[14]))
}

fail_run() { # LABEL WHAT
  echo "bench-runtime: $1: $2 failed; stderr:" >&2
  tail -n 20 "$WORK/err" >&2
  exit 1
}

# one container with runtime index $1, id $2; appends a line to times.LABEL:
# MODE=run: total_us; MODE=split: total_us create_us start_us wait_us delete_us
cpu_acc=()
one() {
  local i=$1 id=$2 l=${labels[$1]} rt=${bins[$1]} root=$WORK/state/${labels[$1]}
  local a b c d e pid st c0
  cpu_ticks; c0=$REPLY
  if [[ $MODE == run ]]; then
    a=${EPOCHREALTIME/./}
    "$rt" --root "$root" run --bundle "$B" "$id" > /dev/null 2> "$WORK/err" < /dev/null || fail_run "$l" "run $id"
    b=${EPOCHREALTIME/./}
    echo "$((b - a))" >> "$WORK/times.$l"
  else
    a=${EPOCHREALTIME/./}
    "$rt" --root "$root" create --pid-file "$WORK/pid" --bundle "$B" "$id" > /dev/null 2> "$WORK/err" < /dev/null ||
      fail_run "$l" "create $id"
    b=${EPOCHREALTIME/./}
    read -r pid < "$WORK/pid" || true # no trailing newline
    "$rt" --root "$root" start "$id" 2> "$WORK/err" || fail_run "$l" "start $id"
    c=${EPOCHREALTIME/./}
    # field 3 of /proc/PID/stat is the state: Z or gone = exited
    while { read -r _ _ st _ < "/proc/$pid/stat"; } 2> /dev/null && [[ $st != Z ]]; do :; done
    d=${EPOCHREALTIME/./}
    "$rt" --root "$root" delete "$id" 2> "$WORK/err" || fail_run "$l" "delete $id"
    e=${EPOCHREALTIME/./}
    echo "$((e - a)) $((b - a)) $((c - b)) $((d - c)) $((e - d))" >> "$WORK/times.$l"
  fi
  cpu_ticks
  cpu_acc[i]=$((${cpu_acc[i]:-0} + REPLY - c0))
}

echo "bench-runtime: MODE=$MODE N=$N, /bin/true in a busybox-static bundle, HIDE_CG2=$HIDE_CG2, $(nproc) CPUs"
for i in "${!labels[@]}"; do
  v=$({ "${bins[$i]}" --version 2> /dev/null || true; } | head -n 1)
  printf '  %-5s = %s (%s)\n' "${labels[$i]}" "${bins[$i]}" "${v:-version unknown}"
done

# warm-up (page cache, first cgroup creation), not counted
for i in "${!labels[@]}"; do
  one "$i" "warm-$$-$i"
  : > "$WORK/times.${labels[$i]}"
done
cpu_acc=()

# rotate the order every round (A B C, B C A, C A B) so that no runtime always
# runs right after the same other one
nrt=${#labels[@]}
for ((k = 0; k < N; k++)); do
  for ((j = 0; j < nrt; j++)); do
    one $(((k + j) % nrt)) "b-$$-$k"
  done
done

# peak RSS of one `run`, median of 3
rss=()
for i in "${!labels[@]}"; do
  vals=()
  for r in 1 2 3; do
    "$cache/maxrss" "${bins[$i]}" --root "$WORK/state/${labels[$i]}" run --bundle "$B" "rss-$$-$r" \
      > /dev/null 2> "$WORK/err" < /dev/null || fail_run "${labels[$i]}" "maxrss run"
    vals+=("$(sed -n 's/^maxrss_kb=//p' "$WORK/err")")
  done
  rss[i]=$(printf '%s\n' "${vals[@]}" | sort -n | sed -n 2p)
done

# stats COLUMN FILE -> "min median max" in ms
stats() {
  cut -d' ' -f"$1" "$2" | sort -n | awk '{ a[++n] = $1 }
    END { printf "%.2f %.2f %.2f", a[1] / 1e3, (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) / 1e3, a[n] / 1e3 }'
}

echo
if [[ $MODE == run ]]; then
  printf '%-6s %10s %10s %10s %12s %10s\n' runtime median_ms min_ms max_ms cpu_ms/ctr maxrss_kB
else
  printf '%-6s %10s %10s %10s %12s %10s %9s %9s %9s %9s\n' runtime median_ms min_ms max_ms cpu_ms/ctr maxrss_kB \
    create start wait delete
fi
declare -A med
for i in "${!labels[@]}"; do
  l=${labels[$i]}
  read -r mn md mx <<< "$(stats 1 "$WORK/times.$l")"
  med[$l]=$md
  cpu=$(awk -v t="${cpu_acc[i]:-0}" -v ms="$tick_ms" -v n="$N" 'BEGIN { printf "%.2f", t * ms / n }')
  if [[ $MODE == run ]]; then
    printf '%-6s %10s %10s %10s %12s %10s\n' "$l" "$md" "$mn" "$mx" "$cpu" "${rss[i]}"
    mline="runtime=$l mode=$MODE n=$N median_ms=$md min_ms=$mn max_ms=$mx cpu_per_ctr_ms=$cpu maxrss_kb=${rss[i]}"
  else
    ph=()
    for col in 2 3 4 5; do
      read -r _ m _ <<< "$(stats "$col" "$WORK/times.$l")"
      ph+=("$m")
    done
    printf '%-6s %10s %10s %10s %12s %10s %9s %9s %9s %9s\n' "$l" "$md" "$mn" "$mx" "$cpu" "${rss[i]}" "${ph[@]}"
    mline="runtime=$l mode=$MODE n=$N median_ms=$md min_ms=$mn max_ms=$mx cpu_per_ctr_ms=$cpu maxrss_kb=${rss[i]}"
    mline+=" create_ms=${ph[0]} start_ms=${ph[1]} wait_ms=${ph[2]} delete_ms=${ph[3]}"
  fi
  echo "$mline" >> "$WORK/summary"
done

# ratios: of the medians, and the median of the per-iteration (paired) ratios
ratio() { # A B
  local paired
  paired=$(paste -d' ' <(cut -d' ' -f1 "$WORK/times.$1") <(cut -d' ' -f1 "$WORK/times.$2") |
    awk '{ print $1 / $2 }' | sort -g | awk '{ a[++n] = $1 }
      END { printf "%.2f", (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) }')
  awk -v a="${med[$1]}" -v b="${med[$2]}" -v p="$paired" -v x="$1" -v y="$2" \
    'BEGIN { printf "ratio %s/%s: %.2f (of medians), paired median %s\n", x, y, a / b, p }'
}
echo
have() { [[ -n ${med[$1]:-} ]]; }
if have berth; then
  have crun && ratio berth crun
  have runc && ratio berth runc
fi
have crun && have runc && ratio crun runc
echo
cat "$WORK/summary"
exit
}
