#!/bin/sh
# run-soak.sh - the guest side of the soak run (./mmview soak, and the short
# soak of ./mmview test): stress-ng's vm stressors and trinity's vm syscall
# group, every process of both inside views (LD_PRELOAD of inview-preload.so).
#
#   run-soak.sh [stress-ng|trinity|all]     (busybox sh, as root)
#   run-soak.sh --list                      the tools to run ($SOAK_TOOLS)
#
# Settings come from /etc/mmview/soak.env (written by the host, see
# tooling/src/soak/config.ts); without it, from the environment or defaults.
# Machine-readable lines for the host (tooling/src/soak/results.ts):
#   SOAK-CONFIG tool=<t> key=value...
#   SOAK-VIEWS tool=<t> samples=<n> inview=<n> base=<n>
#   SOAK-DEADLINE tool=<t> at=<s> signal=<sig> processes=<n>   still running at its deadline: signalled
#   SOAK-HANG tool=<t> after=<s> left=<n> processes still there <grace> s after the deadline: SIGKILL
#   SOAK-UNKILLABLE tool=<t> left=<n>    still there after SIGKILL (stuck in the kernel)
#   SOAK-RESULT tool=<t> exit=<status> seconds=<s> taint=<before>-><after>
# Program output goes to the console as it comes (stress-ng's metrics and
# "fail:" lines, trinity's summary, the preload's "mmview-inview: FAILED").
#
# Why setsid: stress-ng stops its stressors with killpg() on its own process
# group (SIGALRM, at the end SIGKILL), and its stressors signal their group
# too.  Started from this script without a session of its own, stress-ng
# shares the group of the runner, of init's run_program and of everything
# else the init script started: those signals killed the runner in the
# middle of the soak, and nothing reported the deadline or the result.
#
# Why the deadline: the kernels of this project are tinyconfig-based without
# CONFIG_POSIX_TIMERS, so alarm(2), setitimer(2) and timer_create(2) fail with
# ENOSYS.  stress-ng ends its run with alarm(): without it, no stressor ever
# stops.  At the deadline the runner sends stress-ng SIGINT (it then stops
# its stressors and reports as after its timeout), SIGALRM to stressors that
# are still there a minute later, and SIGKILLs whatever is left after the
# grace period (a stressor stuck in one very long iteration, or in the
# kernel).

[ -r /etc/mmview/soak.env ] && . /etc/mmview/soak.env

: "${SOAK_TOOLS:=stress-ng trinity}"
: "${SOAK_DIR:=/usr/lib/mmview-soak}"
: "${SOAK_PRELOAD:=$SOAK_DIR/inview-preload.so}"
: "${SOAK_STRESS_SECONDS:=60}"
: "${SOAK_TRINITY_SECONDS:=60}"
: "${SOAK_STRESSORS:=}"
: "${SOAK_STRESS_ARGS:=}"
: "${SOAK_STRESS_INSTANCES:=1}"
: "${SOAK_TRINITY_SEED:=1}"
: "${SOAK_TRINITY_CHILDREN:=4}"
: "${SOAK_TRINITY_ARGS:=}"
: "${SOAK_GRACE:=120}"
: "${SOAK_MEMORY_PERCENT:=60}"
: "${SOAK_SWAP:=512M}"
: "${SOAK_SCRATCH:=/tmp/soak}"
: "${SOAK_USER:=soak}"
: "${SOAK_UID:=1000}"
# off: a control run outside views (./mmview soak --no-views), same everything else
: "${SOAK_VIEWS:=on}"

export PATH=/usr/sbin:/usr/bin:/sbin:/bin

# The runner's clock reads /proc/uptime with shell builtins only: under the
# soak's load every fork and exec of the runner is slow.
uptime_s() { read -r _up _ < /proc/uptime; echo "${_up%%.*}"; }
now() { read -r _up _ < /proc/uptime; NOW=${_up%%.*}; }

# tool_cgroup <tool>: a memory cgroup of its own for the tool, limited to
# SOAK_MEMORY_PERCENT of RAM.  stress-ng's stressors grow until allocations
# fail (bigheap, brk, mmapmany, ...): without a limit of their own they keep
# the whole guest at its low watermark, and every fork and exec of this
# runner then waits in direct reclaim: the soak's deadline passed minutes
# before the runner got to it.  The limit keeps the reclaim and the OOM
# kills inside the tool's group.  Prints the cgroup's folder.
tool_cgroup() {
  cg=/sys/fs/cgroup/soak-$1
  grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
    echo +memory > /sys/fs/cgroup/cgroup.subtree_control
  mkdir -p "$cg"
  kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
  echo $((kb / 100 * SOAK_MEMORY_PERCENT * 1024)) > "$cg/memory.max"
  echo "$cg"
}

# confine <cgroup>: move the calling (sub)shell into the tool's memory cgroup
# and lower its CPU weight to nice 19, both inherited by the tool.  Under
# single-threaded TCG the guest's vCPUs share one host thread; with dozens
# of stressors runnable at nice 0 (all of them in reclaim at the cgroup's
# limit), this runner got too little CPU time to fork its sleep(1) and was
# minutes late for every deadline.
# (In a subshell $$ is the runner's pid: /proc/self opened by the shell
# itself names the subshell.)
confine() {
  read -r self _ < /proc/self/stat
  echo 0 > "$1/cgroup.procs" && renice -n 19 -p "$self" >/dev/null
}

# swap_on: swap on zram, so that reclaim at the tool's memory limit can
# swap anonymous pages out (and views see swap entries) instead of only
# thrashing the page cache before the OOM killer comes.  Once per boot.
swap_on() {
  [ "$(wc -l < /proc/swaps)" -gt 1 ] && return 0
  [ -e /sys/block/zram0/disksize ] || { echo "soak: no zram0: soaking without swap"; return 0; }
  echo "$SOAK_SWAP" > /sys/block/zram0/disksize &&
    mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 &&
    echo "soak: swap on zram0, $SOAK_SWAP"
}

# cgroup_report <tool> <cgroup>: what the limit did
cgroup_report() {
  echo "soak: $1: memory cgroup max=$(cat "$2/memory.max") peak=$(cat "$2/memory.peak" 2>/dev/null || echo '?')" \
    "oom_kill=$(sed -n 's/^oom_kill //p' "$2/memory.events")"
}
taint() { cat /proc/sys/kernel/tainted 2>/dev/null || echo '?'; }

# The runner polls every second, so its loops use shell builtins only: a
# fork and exec per process polled (cat, sed) made the runner itself a load
# of its own, and under a saturated guest (arm64 under TCG) its 30 s loop
# ran 400 s late, past the tool's time limit.

# comm_of <pid dir>: sets $c to the comm of a process; false if it is gone
comm_of() { { read -r c < "$1/comm"; } 2>/dev/null; }

# procs <comm prefix>: pids of processes whose comm starts with it
procs() {
  for d in /proc/[0-9]*; do
    comm_of "$d" || continue
    case "$c" in "$1"*) echo "${d#/proc/}" ;; esac
  done
}

signal_all() { # signal_all <signal> <comm prefix>
  for p in $(procs "$2"); do kill "-$1" "$p" 2>/dev/null; done
}

count() { set -- $(procs "$1"); echo $#; }

# left_by_name <comm prefix>: what is left, as comm*count (which stressors are slow to stop)
left_by_name() {
  for p in $(procs "$1"); do comm_of "/proc/$p" && echo "$c"; done | sort | uniq -c |
    while read -r n c; do printf ' %s*%s' "$c" "$n"; done
}

# mmview_of <status file>: sets $v to its MMView: field (empty without one)
mmview_of() {
  v=
  { while read -r k val; do
      [ "$k" = MMView: ] && { v=$val; break; }
    done < "$1"; } 2>/dev/null
}

# pressure: the guest's memory state, to tell a saturated guest (swap
# traffic, reclaim scans) from one where the tool itself is slow
pressure() {
  sed -n 's/^\(pswpin\|pswpout\|pgscan_direct\|pgscan_kswapd\|pgmajfault\|compact_stall\) \([0-9]*\)$/\1=\2/p' /proc/vmstat | tr '\n' ' '
  sed -n 's/^\(MemFree\|SwapFree\): *\([0-9]*\) kB/\1=\2kB/p' /proc/meminfo | tr '\n' ' '
  read -r l1 l5 _ < /proc/loadavg; echo "load=$l1/$l5"
}

# What is left of a tool: for each thread its state, CPU time (ticks, user
# and system: growing between two calls means it still runs), the system
# call it is in, its wait channel and kernel stack.
show_left() {
  for p in $(procs "$1"); do
    for t in /proc/$p/task/*; do
      stat=$(cat "$t/stat" 2>/dev/null) || continue
      set -- ${stat##*) }
      echo "soak: left: pid $p tid ${t##*/} $(cat "$t/comm" 2>/dev/null) state $1 utime ${12} stime ${13}" \
        "syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null) wchan $(cat "$t/wchan" 2>/dev/null)"
      [ -r "$t/stack" ] && sed 's/^/soak:     /' "$t/stack" 2>/dev/null
    done
  done
}

# sample_views <tool> <comm prefix> <pid of the tool> <stop file> <count file>:
# while the tool runs, read MMView: of its threads every few seconds.  A
# process just forked may not have entered its views yet: a few base-view
# samples are normal, a run with none inside views is not.  The count file
# (MMVIEW_INVIEW_COUNT of the preload) has one byte per process that entered
# its views.
sample_views() {
  samples=0 inview=0 base=0
  while kill -0 "$3" 2>/dev/null && [ ! -e "$4" ]; do
    for p in $(procs "$2"); do
      for t in /proc/$p/task/*; do
        mmview_of "$t/status"
        [ -n "$v" ] || continue
        samples=$((samples + 1))
        if [ "$v" = 0 ]; then base=$((base + 1)); else inview=$((inview + 1)); fi
      done
    done
    sleep 3
  done
  entered=0
  [ -r "$5" ] && entered=$(wc -c < "$5" | tr -d ' ')
  echo "SOAK-VIEWS tool=$1 samples=$samples inview=$inview base=$base entered=${entered:-0}"
}

# supervise <tool> <comm prefix> <pid> <deadline seconds> <signal> <again signal> <again comm prefix>:
# wait for the tool; at the deadline send <signal> to its main process <pid>
# (stress-ng and trinity both stop cleanly on SIGINT: stress-ng passes SIGALRM
# on to its stressors, reports and exits). If it is still there 60 s later,
# send <again signal> to its processes whose comm starts with <again comm
# prefix> (the SIGALRM each stressor's alarm() would have sent), every 30 s.
# After the grace period SIGKILL whatever of it is left (SOAK-HANG) and report
# what survives even that (SOAK-UNKILLABLE). Sets $status to its exit status.
supervise() {
  tool=$1 prefix=$2 pid=$3 limit=$4 first=$5 again=$6 againprefix=$7
  now; t0=$NOW beat=$((NOW + 30))
  while kill -0 "$pid" 2>/dev/null && [ $((NOW - t0)) -lt "$limit" ]; do
    sleep 1; now
    # A sign of life every 30 s: a runner that stops printing is stalled.
    if [ "$NOW" -ge "$beat" ]; then echo "soak: $tool: $((NOW - t0)) s"; beat=$((NOW + 30)); fi
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "SOAK-DEADLINE tool=$tool at=$((NOW - t0)) signal=$first processes=$(count "$prefix")"
    echo "soak: $tool: at the deadline:$(left_by_name "$prefix")"
    echo "soak: $tool: $(pressure)"
    kill "-$first" "$pid" 2>/dev/null
  fi
  # The tool and everything it started must be gone by the end of the grace
  # period, counted from when the signal went (a late runner gives the full grace).
  now; hang=$((NOW - t0 + SOAK_GRACE)) next=$((NOW - t0 + 60))
  while { kill -0 "$pid" 2>/dev/null || [ "$(count "$prefix")" -gt 0 ]; } && [ $((NOW - t0)) -lt "$hang" ]; do
    if [ $((NOW - t0)) -ge "$next" ]; then
      echo "soak: $tool: $(count "$prefix") process(es) left $((NOW - t0)) s after the start: SIG$again to $againprefix*"
      echo "soak: $tool: left:$(left_by_name "$prefix"); $(pressure)"
      for p in $(procs "$againprefix"); do [ "$p" = "$pid" ] || kill "-$again" "$p" 2>/dev/null; done
      next=$((next + 30))
    fi
    sleep 1; now
  done
  if kill -0 "$pid" 2>/dev/null || [ "$(count "$prefix")" -gt 0 ]; then
    now
    echo "SOAK-HANG tool=$tool after=$((NOW - t0)) left=$(count "$prefix")"
    show_left "$prefix"
    sleep 5
    echo "soak: the same 5 s later:"
    show_left "$prefix"
    kill -KILL "$pid" 2>/dev/null
    signal_all KILL "$prefix"
    n=0
    while [ "$(count "$prefix")" -gt 0 ] && [ $n -lt 30 ]; do sleep 1; n=$((n + 1)); done
    if [ "$(count "$prefix")" -gt 0 ]; then
      echo "SOAK-UNKILLABLE tool=$tool left=$(count "$prefix")"
      show_left "$prefix"
    fi
  fi
  wait "$pid"
  status=$?
}

# check_views <program...>: run a program under the preload once; it must
# enter its views (else the whole soak would run outside views).
check_views() {
  [ "$SOAK_VIEWS" = off ] && { echo "soak: control run outside views"; return 0; }
  out=$(LD_PRELOAD=$SOAK_PRELOAD MMVIEW_INVIEW_VERBOSE=1 "$@" 2>&1 >/dev/null)
  rc=$?
  echo "$out" | grep 'mmview-inview' | head -3
  [ $rc -eq 0 ] && echo "$out" | grep -q 'mmview-inview: pid .* runs in view'
}

# preload: the LD_PRELOAD value (none in a control run)
preload() { [ "$SOAK_VIEWS" = off ] || echo "$SOAK_PRELOAD"; }

run_stress_ng() {
  # The vm class or the chosen stressors, one instance each.
  if [ -n "$SOAK_STRESSORS" ]; then
    which=""
    for s in $(echo "$SOAK_STRESSORS" | tr ',' ' '); do which="$which --$s $SOAK_STRESS_INSTANCES"; done
  else
    which="--class vm --all $SOAK_STRESS_INSTANCES"
  fi
  dir=$SOAK_SCRATCH/stress-ng
  rm -rf "$dir"; mkdir -p "$dir"
  echo "SOAK-CONFIG tool=stress-ng seconds=$SOAK_STRESS_SECONDS grace=$SOAK_GRACE memory=${SOAK_MEMORY_PERCENT}% stressors=${SOAK_STRESSORS:-class:vm} args=$(echo $SOAK_STRESS_ARGS | tr ' ' ',') views=$SOAK_VIEWS"
  if ! check_views stress-ng --version; then
    echo "SOAK-RESULT tool=stress-ng exit=99 seconds=0 taint=$(taint)->$(taint) views=unavailable"
    return
  fi
  before=$(taint) t0=$(uptime_s) stop=$SOAK_SCRATCH/stress-ng.stop
  rm -f "$stop" "$SOAK_SCRATCH/stress-ng.count"
  cg=$(tool_cgroup stress-ng)
  # shellcheck disable=SC2086
  (confine "$cg" && cd "$dir" && MMVIEW_INVIEW_COUNT=$SOAK_SCRATCH/stress-ng.count LD_PRELOAD=$(preload) exec setsid stress-ng $which \
    --timeout "${SOAK_STRESS_SECONDS}s" --verify --metrics-brief --temp-path "$dir" $SOAK_STRESS_ARGS </dev/null 2>&1) &
  pid=$!
  sample_views stress-ng stress-ng "$pid" "$stop" "$SOAK_SCRATCH/stress-ng.count" &
  sampler=$!
  # stress-ng stops by itself after its timeout when alarm() works; the deadline leaves it 10 s more.
  supervise stress-ng stress-ng "$pid" $((SOAK_STRESS_SECONDS + 10)) INT ALRM stress-ng-
  touch "$stop"; wait "$sampler"
  cgroup_report stress-ng "$cg"
  echo "SOAK-RESULT tool=stress-ng exit=$status seconds=$(( $(uptime_s) - t0 )) taint=$before->$(taint)"
}

run_trinity() {
  dir=$SOAK_SCRATCH/trinity
  rm -rf "$dir"; mkdir -p "$dir"
  grep -q "^$SOAK_USER:" /etc/passwd || echo "$SOAK_USER:x:$SOAK_UID:$SOAK_UID:soak:$dir:/bin/sh" >> /etc/passwd
  grep -q "^$SOAK_USER:" /etc/group || echo "$SOAK_USER:x:$SOAK_UID:" >> /etc/group
  chown "$SOAK_UID:$SOAK_UID" "$dir"
  echo "SOAK-CONFIG tool=trinity seconds=$SOAK_TRINITY_SECONDS grace=$SOAK_GRACE memory=${SOAK_MEMORY_PERCENT}% seed=$SOAK_TRINITY_SEED children=$SOAK_TRINITY_CHILDREN group=vm user=$SOAK_USER args=$(echo $SOAK_TRINITY_ARGS | tr ' ' ',') views=$SOAK_VIEWS"
  if ! check_views trinity --help; then
    echo "SOAK-RESULT tool=trinity exit=99 seconds=0 taint=$(taint)->$(taint) views=unavailable"
    return
  fi
  before=$(taint) t0=$(uptime_s) stop=$SOAK_SCRATCH/trinity.stop
  rm -f "$stop"
  # Trinity refuses to run as root: run it as an ordinary user in its scratch folder,
  # where it logs (trinity.log, trinity-child<N>.log). It has no time limit of its
  # own: SIGINT at the deadline ends it cleanly.
  cmd="cd $dir && MMVIEW_INVIEW_COUNT=$dir/views.count LD_PRELOAD=$(preload) exec trinity -g vm $SOAK_TRINITY_ARGS -s $SOAK_TRINITY_SEED -C $SOAK_TRINITY_CHILDREN -q"
  echo "soak: trinity -g vm $SOAK_TRINITY_ARGS -s $SOAK_TRINITY_SEED -C $SOAK_TRINITY_CHILDREN (seed $SOAK_TRINITY_SEED; rerun with the same seed to repeat)"
  cg=$(tool_cgroup trinity)
  (confine "$cg" && exec setsid su -s /bin/sh "$SOAK_USER" -c "$cmd" </dev/null 2>&1) &
  pid=$!
  sample_views trinity trinity "$pid" "$stop" "$dir/views.count" &
  sampler=$!
  supervise trinity trinity "$pid" "$SOAK_TRINITY_SECONDS" INT INT trinity-main
  touch "$stop"; wait "$sampler"
  cgroup_report trinity "$cg"
  # Trinity's own account of the run, and each child's last system calls.
  [ -r "$dir/trinity.log" ] && tail -n 25 "$dir/trinity.log" | sed 's/^/trinity.log: /'
  for f in "$dir"/trinity-child*.log; do
    [ -r "$f" ] && tail -n 2 "$f" | sed "s|^|${f##*/}: |"
  done
  echo "SOAK-RESULT tool=trinity exit=$status seconds=$(( $(uptime_s) - t0 )) taint=$before->$(taint)"
}

[ "$1" = --list ] && { echo $SOAK_TOOLS; exit 0; }
mkdir -p "$SOAK_SCRATCH"
swap_on
case "${1:-all}" in
  stress-ng) run_stress_ng ;;
  trinity) run_trinity ;;
  all) run_stress_ng; run_trinity ;;
  *) echo "usage: $0 [stress-ng|trinity|all]" >&2; exit 2 ;;
esac
exit 0
