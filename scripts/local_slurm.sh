#!/usr/bin/env bash
# A one-node Slurm (with its own munged) on this machine, from Debian's packages, for tests and for
# trying the cluster path on a laptop (docs/cluster.md).
#
#   sudo scripts/local_slurm.sh start     # idempotent: a second start says it is running
#   eval "$(scripts/local_slurm.sh env)"  # SLURM_CONF for srun / sbatch / sacct -c / the submitit launcher
#   sudo scripts/local_slurm.sh stop      # cancels its jobs, ends exactly the daemons it started
#   scripts/local_slurm.sh status
#   sudo scripts/local_slurm.sh purge     # stop, then remove the state directory
#
# Everything lives in one directory (CXRBENCH_SLURM_DIR, default /tmp/cxrbench-slurm): conf/
# (slurm.conf, cgroup.conf), munge/ (its own key, socket, pid, log), run/ (pid files), log/
# (daemon logs and jobcomp.txt, the job completion log `sacct -c` reads), ctld/ (slurmctld state),
# spool/ (slurmd). The daemons are stopped by the pids in their pid files, checked against the
# binary each pid runs, never by process name.
#
# Accounting: Slurm 22.05 has no file-backed accounting storage (accounting_storage/filetxt was
# removed; slurmdbd needs MySQL/MariaDB), so the cluster runs AccountingStorageType=none plus
# JobCompType=jobcomp/filetxt: `sacct -c` (--completion) lists every finished job from the text log.
# Plain `sacct` (no -c) answers "Slurm accounting storage is disabled".
set -euo pipefail

STATE=${CXRBENCH_SLURM_DIR:-/tmp/cxrbench-slurm}
CTLD_PORT=${CXRBENCH_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${CXRBENCH_SLURM_SLURMD_PORT:-6818}
PARTITION=${CXRBENCH_SLURM_PARTITION:-local}
APT_LINE="apt-get install -y slurm-wlm munge"
READY_TIMEOUT=${CXRBENCH_SLURM_READY_TIMEOUT:-60}

case "$STATE" in /*) ;; *) echo "error: CXRBENCH_SLURM_DIR must be an absolute path: $STATE" >&2; exit 1 ;; esac
case "$STATE" in *[[:space:]]*) echo "error: CXRBENCH_SLURM_DIR must not contain spaces (slurm.conf): $STATE" >&2; exit 1 ;; esac
CONF="$STATE/conf/slurm.conf"
MUNGE_DIR="$STATE/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
# name pidfile binary
DAEMONS=("munged $MUNGE_DIR/munged.pid /usr/sbin/munged"
         "slurmctld $STATE/run/slurmctld.pid /usr/sbin/slurmctld"
         "slurmd $STATE/run/slurmd.pid /usr/sbin/slurmd")

die() { echo "error: $*" >&2; exit 1; }
say() { echo "local_slurm: $*"; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "'$1' must run as root (slurmctld and slurmd run as root, munged as user munge): sudo $0 $1"
}

need_packages() {
    local missing=()
    for bin in /usr/sbin/munged /usr/bin/munge /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/srun /usr/bin/sbatch \
               /usr/bin/sacct /usr/bin/scontrol /usr/bin/sinfo /usr/bin/squeue /usr/bin/scancel; do
        [ -x "$bin" ] || missing+=("$bin")
    done
    [ "${#missing[@]}" -eq 0 ] || die "Slurm or munge is not installed (missing: ${missing[*]}); install them with: $APT_LINE"
    id munge >/dev/null 2>&1 || die "no user 'munge' (the munge package creates it); install the packages with: $APT_LINE"
}

# The live pid of daemon $1 (pid file $2, binary $3), or nothing: the pid must exist and run $3.
live_pid() {
    local pidfile=$2 binary=$3 pid exe
    [ -s "$pidfile" ] || return 0
    pid=$(tr -dc '0-9' <"$pidfile")
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    if [ -n "$exe" ]; then
        exe=${exe% (deleted)}
        # /usr/sbin/slurmctld is a link (to slurmctld-wlm on Debian): compare with its target.
        [ "$exe" = "$(readlink -f "$binary")" ] && echo "$pid"
    else
        # Not root (status): another user's exe is unreadable, its command line is not.
        exe=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1 || true)
        [ "$exe" = "$binary" ] && echo "$pid"
    fi
    return 0
}

pid_of() {  # pid_of NAME
    local entry name pidfile binary
    for entry in "${DAEMONS[@]}"; do
        read -r name pidfile binary <<<"$entry"
        [ "$name" = "$1" ] && { live_pid "$name" "$pidfile" "$binary"; return 0; }
    done
}

# Wait up to $2 seconds for daemon $1 to have a live pid; on failure print its log's tail.
wait_pid() {
    local name=$1 limit=$2 log=$3 i
    for ((i = 0; i < limit * 10; i++)); do
        [ -n "$(pid_of "$name")" ] && return 0
        sleep 0.1
    done
    echo "error: $name did not start within ${limit}s; last lines of $log:" >&2
    tail -n 20 "$log" >&2 2>/dev/null || true
    exit 1
}

write_conf() {
    local node host cpus mem
    host=$(hostname -s)
    # slurmd -C: this machine's NodeName, CPUs, sockets/cores/threads and RealMemory (MiB).
    node=$(/usr/sbin/slurmd -C | head -n 1)
    case "$node" in NodeName=*) ;; *) die "slurmd -C did not describe this node: $node" ;; esac
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    cat >"$CONF" <<EOF
# Written by scripts/local_slurm.sh: a one-node cluster on this machine ($cpus CPUs, $mem MiB).
ClusterName=cxrbench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((mem / cpus))
# No slurmdbd (it needs MySQL): jobs are recorded on completion in a text file that 'sacct -c' reads.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    # Slurm 22.05 reads cgroup.conf next to slurm.conf even with proctrack/linuxproc and task/none.
    printf 'CgroupPlugin=cgroup/v1\n' >"$STATE/conf/cgroup.conf"
    chmod 644 "$CONF" "$STATE/conf/cgroup.conf"
}

start_munged() {
    [ -n "$(pid_of munged)" ] && return 0
    install -d -o munge -g munge -m 755 "$MUNGE_DIR"
    if [ ! -s "$MUNGE_DIR/munge.key" ]; then
        (umask 077; head -c 1024 /dev/urandom >"$MUNGE_DIR/munge.key")
        chown munge:munge "$MUNGE_DIR/munge.key"
        chmod 400 "$MUNGE_DIR/munge.key"
    fi
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock" "$MUNGE_DIR/munged.pid"
    runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" --key-file="$MUNGE_DIR/munge.key" \
        --pid-file="$MUNGE_DIR/munged.pid" --log-file="$MUNGE_DIR/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed" </dev/null >>"$STATE/log/munged.stdout" 2>&1 \
        || { tail -n 20 "$MUNGE_DIR/munged.log" >&2 2>/dev/null; die "munged failed to start (log: $MUNGE_DIR/munged.log)"; }
    wait_pid munged 10 "$MUNGE_DIR/munged.log"
    /usr/bin/munge -n -S "$MUNGE_SOCKET" | /usr/bin/unmunge -S "$MUNGE_SOCKET" >/dev/null \
        || die "munged is running but a munge/unmunge round trip failed (log: $MUNGE_DIR/munged.log)"
}

start_daemon() {  # start_daemon NAME
    local name=$1 log="$STATE/log/$1.log"
    [ -n "$(pid_of "$name")" ] && return 0
    # Own cwd and null stdio, so the daemon holds no caller's directory or pipe.
    (cd "$STATE" && "/usr/sbin/$name" -f "$CONF" </dev/null >>"$STATE/log/$name.stdout" 2>&1) \
        || { tail -n 20 "$log" >&2 2>/dev/null; die "$name failed to start (log: $log)"; }
    wait_pid "$name" 15 "$log"
}

wait_ready() {
    local i state
    for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
        state=$(SLURM_CONF=$CONF sinfo -h -N -o %T 2>/dev/null | head -n 1 || true)
        case "$state" in idle* | mixed* | allocated*) echo "$state"; return 0 ;; esac
        case "$state" in down* | drain*) SLURM_CONF=$CONF scontrol update nodename=ALL state=resume >/dev/null 2>&1 || true ;; esac
        sleep 0.2
    done
    die "the node did not become idle within ${READY_TIMEOUT}s (state '${state:-none}'); logs: $STATE/log/"
}

elapsed() {  # seconds since $1 (date +%s%N), to 0.1 s
    local ms=$((($(date +%s%N) - $1) / 1000000))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

all_running() {
    [ -n "$(pid_of munged)" ] && [ -n "$(pid_of slurmctld)" ] && [ -n "$(pid_of slurmd)" ]
}

cmd_start() {
    need_root start
    need_packages
    if all_running; then
        say "already running (munged $(pid_of munged), slurmctld $(pid_of slurmctld), slurmd $(pid_of slurmd)); SLURM_CONF=$CONF"
        return 0
    fi
    local t0
    t0=$(date +%s%N)
    install -d -m 755 "$STATE" "$STATE/conf" "$STATE/run" "$STATE/log" "$STATE/spool"
    install -d -m 700 "$STATE/ctld"
    # (Re)write the conf only while no Slurm daemon of this cluster runs on the old one.
    if [ -z "$(pid_of slurmctld)" ] && [ -z "$(pid_of slurmd)" ]; then write_conf; fi
    start_munged
    start_daemon slurmctld
    start_daemon slurmd
    local state
    state=$(wait_ready)
    say "started in $(elapsed "$t0")s: node $(hostname -s) $state, partition $PARTITION; state in $STATE"
    say "use it with: export SLURM_CONF=$CONF"
}

# SIGTERM the named daemons (by their pid files), wait up to 10 s for all, SIGKILL what remains
# (re-checked against its binary first); appends "name(pid)" to the caller's 'stopped'.
terminate() {
    local entry name pidfile binary pid i pids=() names=()
    for entry in "${DAEMONS[@]}"; do
        read -r name pidfile binary <<<"$entry"
        [[ " $* " == *" $name "* ]] || continue
        pid=$(live_pid "$name" "$pidfile" "$binary")
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
            stopped+=("$name($pid)")
        fi
    done
    for ((i = 0; i < 100; i++)); do
        local alive=0
        for pid in "${pids[@]}"; do [ -d "/proc/$pid" ] && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    for entry in "${DAEMONS[@]}"; do
        read -r name pidfile binary <<<"$entry"
        [[ " $* " == *" $name "* ]] || continue
        pid=$(live_pid "$name" "$pidfile" "$binary")
        if [ -n "$pid" ]; then
            say "$name ($pid) still running 10 s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile"
    done
}

cmd_stop() {
    need_root stop
    local i t0
    t0=$(date +%s%N)
    # First the jobs (all of them belong to this cluster), so no slurmstepd outlives slurmd.
    if [ -n "$(pid_of slurmctld)" ] && [ -s "$CONF" ]; then
        local jobs
        jobs=$(SLURM_CONF=$CONF squeue -h -o %A 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            say "cancelling jobs: $(tr "\n" " " <<<"$jobs")"
            # shellcheck disable=SC2086
            SLURM_CONF=$CONF scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 150; i++)); do
                [ -z "$(SLURM_CONF=$CONF squeue -h -o %A 2>/dev/null || true)" ] && break
                sleep 0.2
            done
        fi
    fi
    # Then the daemons: slurmd and slurmctld together, munged (their authenticator) last.
    local stopped=()
    terminate slurmd slurmctld
    terminate munged
    if [ "${#stopped[@]}" -eq 0 ]; then
        say "not running (state in $STATE)"
    else
        say "stopped ${stopped[*]} in $(elapsed "$t0")s"
    fi
}

cmd_status() {
    local entry name pidfile binary pid rc=0
    for entry in "${DAEMONS[@]}"; do
        read -r name pidfile binary <<<"$entry"
        pid=$(live_pid "$name" "$pidfile" "$binary")
        if [ -n "$pid" ]; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; rc=3; fi
    done
    if [ "$rc" -eq 0 ]; then
        SLURM_CONF=$CONF sinfo -N -o "%N %P %T %c %m" 2>/dev/null || true
    fi
    echo "state: $STATE"
    return "$rc"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    purge)
        need_root purge
        cmd_stop
        case "$STATE" in /|/tmp|/var|/var/tmp|"$HOME") die "refusing to remove $STATE" ;; esac
        rm -rf -- "$STATE"
        say "removed $STATE"
        ;;
    *)
        echo "usage: $0 start|stop|status|env|purge   (state: \$CXRBENCH_SLURM_DIR, default /tmp/cxrbench-slurm)" >&2
        exit 2
        ;;
esac
