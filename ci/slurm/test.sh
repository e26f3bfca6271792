#!/usr/bin/env bash
# CI: run a small sweep through a real Slurm (one node on localhost) and check that its
# sweep.csv is byte for byte the local run's.
#
# Needs root (it starts munged, slurmctld and slurmd directly; no systemd) and Debian's
# slurm-wlm and munge, which it installs with apt-get if they are missing. Every daemon runs
# from a scratch directory (target/slurm-ci) with the config in this directory, on ports
# 16817/16818, and is stopped on exit. Usage: ci/slurm/test.sh [path/to/mro]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
mro=${1:-$root/target/debug/mro}
scratch=$root/target/slurm-ci
timeout_s=${MRO_SLURM_TIMEOUT:-180}

fail() {
    echo "ci/slurm: FAILED: $*" >&2
    for log in "$scratch"/slurmctld.log "$scratch"/slurmd.log "$scratch"/munge/munged.log; do
        [ -f "$log" ] && { echo "--- last lines of $log" >&2; tail -n 20 "$log" >&2; }
    done
    for log in "$scratch"/cluster/slurm/task-*.out; do
        [ -f "$log" ] && { echo "--- $log" >&2; cat "$log" >&2; }
    done
    exit 1
}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "ci/slurm: installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update"
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
        || fail "apt-get install slurm-wlm munge"
fi
[ -x "$mro" ] || fail "$mro: no mro binary (cargo build -p mro-harness first)"

stop() {
    for pid in "$scratch"/slurmd.pid "$scratch"/slurmctld.pid "$scratch"/munge/munged.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
}
trap stop EXIT
stop
rm -rf "$scratch"
mkdir -p "$scratch"/state "$scratch"/spool "$scratch"/munge
chmod 700 "$scratch"/munge

# munge: a fresh key, its own socket.
dd if=/dev/urandom of="$scratch"/munge/munge.key bs=1024 count=1 status=none
chmod 400 "$scratch"/munge/munge.key
munged --force --key-file="$scratch"/munge/munge.key --socket="$scratch"/munge/munge.socket \
    --pid-file="$scratch"/munge/munged.pid --log-file="$scratch"/munge/munged.log \
    --seed-file="$scratch"/munge/munged.seed || fail "munged did not start"

cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
sed -e "s|@DIR@|$scratch|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY_MB@|$memory_mb|g" \
    ci/slurm/slurm.conf.in > "$scratch"/slurm.conf
export SLURM_CONF=$scratch/slurm.conf
slurmctld -c || fail "slurmctld did not start"
slurmd -N localhost || fail "slurmd did not start"

deadline=$((SECONDS + 60))
until [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = "idle" ]; do
    [ $SECONDS -lt $deadline ] || fail "the node did not come up idle within 60 s (sinfo: $(sinfo -h -o '%t %E' 2>&1))"
    sleep 1
done
echo "ci/slurm: one-node cluster up ($cpus CPUs)"

# The same sweep, here and through sbatch.
sweep=(sweep "$root"/scenarios/smoke/tiny.toml --set seed=7,8,9)
# A sweep exits 3 when a point misses a tolerance (a finding, not a failure of the run).
finished() { "$@" >/dev/null || [ $? -eq 3 ]; }
finished "$mro" "${sweep[@]}" --out "$scratch"/local || fail "the local sweep failed"
submitted=$("$mro" "${sweep[@]}" --out "$scratch"/cluster --slurm --cpus 1 --time 00:05:00) \
    || fail "mro sweep --slurm failed"
echo "ci/slurm: $submitted"
job=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' <<<"$submitted")
[ -n "$job" ] || fail "no job id in: $submitted"
deadline=$((SECONDS + timeout_s))
while [ -n "$(squeue -h -j "$job" 2>/dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || { scancel "$job"; fail "job $job not finished within $timeout_s s: $(squeue -j "$job" 2>&1)"; }
    sleep 2
done
finished "$mro" sweep --collect "$scratch"/cluster || fail "mro sweep --collect failed"
cmp "$scratch"/local/sweep.csv "$scratch"/cluster/sweep.csv \
    || fail "sweep.csv through Slurm differs from the local run's"
# A rerun finds every point done and submits nothing.
again=$("$mro" "${sweep[@]}" --out "$scratch"/cluster --slurm) || [ $? -eq 3 ] || fail "the --slurm rerun failed"
grep -q "every point is done" <<<"$again" || fail "the --slurm rerun resubmitted: $again"
echo "ci/slurm: sweep.csv through sbatch (job $job) is identical to the local run's"
