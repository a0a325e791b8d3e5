#!/usr/bin/env bash
# moeckpt convert on a real Slurm cluster: a single-node cluster (munged, slurmctld, slurmd from
# Debian's munge and slurm-wlm) started on loopback inside a fresh temporary directory, and the
# scripts users copy (scripts/slurm/submit.sh and convert.sbatch) run on it:
#
#   1. a 4-task job array (--worker auto) and its afterok finalize job write exactly the files a
#      one-process conversion writes;
#   2. the same into a fresh OUT with one task slowed down and cancelled mid-run (scancel
#      JOB_TASK): its share stays incomplete, the dependent finalize job never runs and
#      `convert --finalize` refuses; requeued, the task finishes its share, and a finalize job
#      after it gives the same files again.
#
#   tests/slurm/job_array_test.sh MOECKPT SOURCE_DIR
#
# Exit status 0 passed, 1 failed, 77 skipped (munged, slurmctld or slurmd not installed:
# scripts/setup.sh installs them). The daemons run as the user running the test (root or not).
# Nothing outside the temporary directory is written; the daemons listen on 127.0.0.1 only, on
# free ports, and are stopped at exit whatever happens (and by a watchdog if this script is
# killed). Every wait is bounded. MOECKPT_SLURM_KEEP=1 keeps the directory (logs) for a look.
set -euo pipefail
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

if (($# != 2)); then
  echo "usage: job_array_test.sh MOECKPT SOURCE_DIR" >&2
  exit 2
fi
moeckpt=$(realpath "$1")
src=$(realpath "$2")

for p in munged slurmctld slurmd; do
  if ! command -v "$p" >/dev/null; then
    echo "SKIP: $p is not installed (scripts/setup.sh installs slurm-wlm and munge)"
    exit 77
  fi
done
for p in munge unmunge sbatch squeue sinfo scontrol scancel strace timeout; do
  if ! command -v "$p" >/dev/null; then
    echo "FAIL: $p is missing (scripts/setup.sh installs what this test needs)"
    exit 1
  fi
done

# When this test itself runs in a Slurm job, none of that job's variables reach our cluster.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SACCT)_' || true)

start=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '[%5ss] %s\n' "$(elapsed "$start")" "$*"; }
timings=()
timing() { timings+=("$(printf '%-34s %6ss' "$1" "$2")"); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/moeckpt-slurm.XXXXXX")
mkdir -p "$tmp/log" "$tmp/state" "$tmp/spool" "$tmp/work" "$tmp/bin"
export SLURM_CONF=$tmp/slurm.conf
daemon_pids=()  # the `timeout` watchdog of each daemon we started, in start order
watchdog=400    # seconds: no daemon outlives this, even if this script is killed outright

dump_logs() {
  local f
  for f in "$tmp"/log/* "$tmp"/work/*.out; do
    [[ -f $f ]] || continue
    echo "---- ${f#"$tmp"/} (last 30 lines)"
    tail -n 30 "$f"
  done
}

stop_daemons() {
  local i pid n
  if ((${#daemon_pids[@]} >= 2)) && kill -0 "${daemon_pids[1]}" 2>/dev/null; then
    scancel --quiet --user="$(id -un)" 2>/dev/null || true  # only this cluster's jobs: SLURM_CONF
    for ((n = 0; n < 50; n++)); do
      [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  for ((i = ${#daemon_pids[@]} - 1; i >= 0; i--)); do  # slurmd, slurmctld, then munged
    pid=${daemon_pids[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for ((n = 0; n < 50; n++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  daemon_pids=()
}

cleanup() {
  local rc=$?
  set +e
  stop_daemons
  if ((rc != 0 && rc != 77)); then dump_logs; fi
  if [[ ${MOECKPT_SLURM_KEEP:-} == 1 ]]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*"
  exit 1
}

# A daemon in the foreground under a watchdog, its output in log/NAME.out.
start_daemon() {
  local name=$1
  shift
  timeout -k 5 "$watchdog" "$@" </dev/null >"$tmp/log/$name.out" 2>&1 &
  daemon_pids+=($!)
}

# A TCP port on 127.0.0.1 that nothing listens on (nothing is sent but a connect to loopback).
used_ports=" "
free_port() {
  local p n
  for ((n = 0; n < 100; n++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ $used_ports == *" $p "* ]] && continue
    if command -v ss >/dev/null; then
      [[ -n $(ss -Htan "sport = :$p" 2>/dev/null) ]] && continue
    elif (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
      continue
    fi
    used_ports+="$p "
    echo "$p"
    return 0
  done
  fail "no free port found"
}

# until_true SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds, at most SECONDS.
until_true() {
  local limit=$1 what=$2 n
  shift 2
  for ((n = 0; n < limit * 5; n++)); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  fail "$what: not within ${limit}s"
}

# ---------------------------------------------------------------------------------------------
# The cluster.

t=$EPOCHREALTIME
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 600 "$tmp/munge.key"
munge_socket=$tmp/munge.socket
start_daemon munged munged --foreground --force --socket="$munge_socket" --key-file="$tmp/munge.key" \
  --pid-file="$tmp/munged.pid" --log-file="$tmp/log/munged.log" --seed-file="$tmp/munged.seed"
munge_works() { munge -S "$munge_socket" -n 2>/dev/null | unmunge -S "$munge_socket" >/dev/null 2>&1; }
until_true 20 "munged answering on $munge_socket" munge_works

hw=$(env -u SLURM_CONF slurmd -C | head -n 1)  # NodeName=HOST CPUs=... RealMemory=...
node=$(hostname -s)
[[ $hw == "NodeName=$node "* ]] || fail "slurmd -C names the node differently from hostname -s ($node): $hw"
user=$(id -un)  # root, or the user running the test: its jobs are then that user's own
ctld_port=$(free_port)
slurmd_port=$(free_port)
touch "$tmp/plugstack.conf"
cat >"$SLURM_CONF" <<EOF
# A one-node test cluster on loopback, everything under $tmp.
ClusterName=moeckpt-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$munge_socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=5
MailProg=/bin/true
PlugStackConfig=$tmp/plugstack.conf
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$hw NodeAddr=127.0.0.1 State=UNKNOWN
# FORCE:4 lets the four tasks of an array run at once, whatever the number of cores.
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
start_daemon slurmctld slurmctld -D
ctld_up() { scontrol ping 2>/dev/null | grep -q "is UP"; }
until_true 30 "slurmctld up on 127.0.0.1:$ctld_port" ctld_up
start_daemon slurmd slurmd -D
node_idle() { [[ $(sinfo -h -N -n "$node" -o %T 2>/dev/null) == idle ]]; }
until_true 60 "node $node idle" node_idle
cluster_s=$(elapsed "$t")
timing "cluster start (munged to idle node)" "$cluster_s"
say "cluster up in ${cluster_s}s: slurmctld 127.0.0.1:$ctld_port, slurmd 127.0.0.1:$slurmd_port, node $node ($hw)"

# ---------------------------------------------------------------------------------------------
# Jobs.

# The JobState of every job or task of ID, one per line.
states() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
field() { scontrol -o show job "$1" 2>/dev/null | grep -o " $2=[^ ]*" | head -n 1 | cut -d= -f2-; }
finished() {
  local s all
  all=$(states "$1")
  [[ -n $all ]] || return 1
  for s in $all; do
    case $s in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | PREEMPTED | BOOT_FAIL | DEADLINE | OUT_OF_MEMORY) ;;
      *) return 1 ;;
    esac
  done
}
expect_states() {  # ID WANT: every job or task of ID is in state WANT
  local got
  got=$(states "$1" | sort -u | tr '\n' ' ')
  [[ $got == "$2 " ]] || fail "job $1: state(s) ${got:-none}, expected $2"
}
same_files() {  # A B: the same file names (hidden ones too) with the same bytes
  diff -r "$1" "$2" >"$tmp/diff.txt" 2>&1 || { cat "$tmp/diff.txt"; fail "$2 differs from $1"; }
}

in=$src/testdata/fp8model/qwen3_moe_aligned_bf16
opts=(--quantize fp8-block --max-shard-size 256KiB)
sbatch_script=$src/scripts/slurm/convert.sbatch
submit=$src/scripts/slurm/submit.sh

t=$EPOCHREALTIME
"$moeckpt" -q convert "$in" "$tmp/ref" "${opts[@]}"
timing "reference (one process)" "$(elapsed "$t")"
nfiles=$(find "$tmp/ref" -type f | wc -l)
nshards=$(find "$tmp/ref" -name 'model-*.safetensors' | wc -l)
((nshards >= 8)) || fail "the reference has $nshards shards, expected 8 or more"
say "reference: $nshards shards, $nfiles files, $(du -sk "$tmp/ref" | cut -f1) KiB"

# 1. submit.sh: a 4-task array and its finalize job.
out1=$tmp/out-array
t=$EPOCHREALTIME
submitted=$(cd "$tmp/work" && MOECKPT=$moeckpt "$submit" -n 4 "$in" "$out1" "${opts[@]}")
echo "$submitted"
jid=$(awk '$1 == "array" { sub(":", "", $2); print $2 }' <<<"$submitted")
fid=$(awk '$1 == "finalize" { sub(":", "", $2); print $2 }' <<<"$submitted")
[[ $jid =~ ^[0-9]+$ && $fid =~ ^[0-9]+$ ]] || fail "submit.sh printed no job ids"
until_true 90 "array $jid finished" finished "$jid"
array_s=$(elapsed "$t")
t=$EPOCHREALTIME
until_true 60 "finalize job $fid finished" finished "$fid"
finalize_s=$(elapsed "$t")
expect_states "$jid" COMPLETED
expect_states "$fid" COMPLETED
timing "array run (submit to 4 tasks done)" "$array_s"
timing "finalize job (after the array)" "$finalize_s"
written=0
for k in 0 1 2 3; do
  log=$tmp/work/moeckpt-convert-${jid}_$k.out
  line=$(grep -o 'wrote [0-9]* shard(s)' "$log") || fail "no summary in $log"
  say "task $k: $line"
  written=$((written + $(tr -dc 0-9 <<<"${line%% shard*}")))
done
((written == nshards)) || fail "the tasks wrote $written shards in all, the plan has $nshards"
grep -q "finalized $out1: $nshards shards" "$tmp/work/moeckpt-finalize-$fid.out" || fail "finalize job log: $(cat "$tmp/work/moeckpt-finalize-$fid.out")"
same_files "$tmp/ref" "$out1"
say "array + finalize: byte-identical to the reference ($nfiles files)"

# 2. One task slowed down (every write of its first run 0.5 s late), cancelled mid-run.
out2=$tmp/out-fault
slow=1  # array task 1 = worker 2/4
cat >"$tmp/bin/moeckpt-slow" <<EOF
#!/usr/bin/env bash
if [[ \${SLURM_ARRAY_TASK_ID:-} == $slow && \${SLURM_RESTART_COUNT:-0} == 0 ]]; then
  # (LeakSanitizer cannot work under ptrace: off for this run of a sanitizer build.)
  export ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0
  exec strace -f -qq -o /dev/null -e trace=pwrite64,copy_file_range \\
    -e inject=pwrite64,copy_file_range:delay_enter=500000 "$moeckpt" "\$@"
fi
exec "$moeckpt" "\$@"
EOF
chmod +x "$tmp/bin/moeckpt-slow"
mapfile -t share < <("$moeckpt" --json convert "$in" "$out2" "${opts[@]}" --worker $((slow + 1))/4 --dry-run |
  awk '/"name": ".*\.safetensors"/ { gsub(/[",]/, "", $2); n = $2 } /"this_worker": true/ { print n }')
((${#share[@]} >= 2)) || fail "worker $((slow + 1))/4 has ${#share[@]} shard(s); the fault case needs 2 or more"
say "fault case: task $slow (worker $((slow + 1))/4) writes ${share[*]}"

t=$EPOCHREALTIME
jid2=$(cd "$tmp/work" && MOECKPT=$tmp/bin/moeckpt-slow sbatch --parsable --array=0-3 "$sbatch_script" "$in" "$out2" "${opts[@]}" --threads 1)
jid2=${jid2%%;*}
fid2=$(cd "$tmp/work" && MOECKPT=$moeckpt sbatch --parsable --job-name=moeckpt-finalize --output=%x-%j.out \
  --dependency="afterok:$jid2" --kill-on-invalid-dep=yes "$sbatch_script" --finalize "$out2")
fid2=${fid2%%;*}
say "submitted array $jid2 and finalize $fid2 (afterok:$jid2)"
first_shard_done() { [[ -f $out2/${share[0]} ]]; }
until_true 60 "task $slow's first shard ${share[0]}" first_shard_done
[[ -f $out2/${share[-1]} ]] && fail "task $slow finished its share before it could be cancelled"
[[ $(states "${jid2}_$slow") == RUNNING ]] || fail "task $slow is $(states "${jid2}_$slow"), not RUNNING"
to_cancel_s=$(elapsed "$t")
t=$EPOCHREALTIME
scancel "${jid2}_$slow"
until_true 30 "task ${jid2}_$slow cancelled" finished "${jid2}_$slow"
cancel_s=$(elapsed "$t")
expect_states "${jid2}_$slow" CANCELLED
say "scancel ${jid2}_$slow ${to_cancel_s}s after submission; cancelled ${cancel_s}s later"
sed 's/^/  task log: /' "$tmp/work/moeckpt-convert-${jid2}_$slow.out"
for k in 0 1 2 3; do
  ((k == slow)) && continue
  until_true 30 "task ${jid2}_$k finished" finished "${jid2}_$k"
  expect_states "${jid2}_$k" COMPLETED
done
until_true 30 "finalize job $fid2 dropped" finished "$fid2"
expect_states "$fid2" CANCELLED
say "finalize job $fid2: CANCELLED, reason $(field "$fid2" Reason); it never ran"
[[ ! -e $tmp/work/moeckpt-finalize-$fid2.out ]] || fail "finalize job $fid2 ran: $(cat "$tmp/work/moeckpt-finalize-$fid2.out")"
done_shards=() missing=()
for s in "${share[@]}"; do
  if [[ -f $out2/$s ]]; then done_shards+=("$s"); else missing+=("$s"); fi
done
((${#missing[@]} > 0)) || fail "the cancelled task's share is complete"
temps=$(cd "$out2" && find . -maxdepth 1 -name '.moeckpt-tmp-*' -printf '%f ')
say "cancelled share: done ${done_shards[*]:-none}; missing ${missing[*]}; temporaries left: ${temps:-none}"
[[ ! -e $out2/config.json && ! -e $out2/model.safetensors.index.json ]] || fail "$out2 has a config.json or index"
rc=0
"$moeckpt" convert --finalize "$out2" 2>"$tmp/finalize.err" || rc=$?
say "convert --finalize by hand: exit $rc: $(cat "$tmp/finalize.err")"
((rc == 4)) || fail "finalize of an incomplete OUT exited $rc, expected 4"
grep -q "missing or incomplete" "$tmp/finalize.err" || fail "finalize did not say what is missing"
[[ ! -e $out2/config.json ]] || fail "the refused finalize wrote config.json"

t=$EPOCHREALTIME
scontrol requeue "${jid2}_$slow"
# A requeued job waits for a BeginTime (about two minutes) unless told to start now.
scontrol update jobid="${jid2}_$slow" StartTime=now || say "(the requeued task had started already)"
fid3=$(cd "$tmp/work" && MOECKPT=$moeckpt sbatch --parsable --job-name=moeckpt-finalize --output=%x-%j.out \
  --dependency="afterok:${jid2}_$slow" --kill-on-invalid-dep=yes "$sbatch_script" --finalize "$out2")
fid3=${fid3%%;*}
# (Right after the requeue the task may still show its old CANCELLED.)
requeued_done() { [[ $(states "${jid2}_$slow") != CANCELLED ]] && finished "${jid2}_$slow"; }
until_true 60 "requeued task ${jid2}_$slow finished" requeued_done
requeue_s=$(elapsed "$t")
expect_states "${jid2}_$slow" COMPLETED
[[ $(field "${jid2}_$slow" Restarts) == 1 ]] || fail "task ${jid2}_$slow: Restarts=$(field "${jid2}_$slow" Restarts), expected 1"
t=$EPOCHREALTIME
until_true 60 "finalize job $fid3 finished" finished "$fid3"
finalize2_s=$(elapsed "$t")
expect_states "$fid3" COMPLETED
sed 's/^/  requeued task log: /' "$tmp/work/moeckpt-convert-${jid2}_$slow.out"
grep -q "kept ${#done_shards[@]} finished earlier" "$tmp/work/moeckpt-convert-${jid2}_$slow.out" ||
  { ((${#done_shards[@]} == 0)) || fail "the requeued task did not keep the ${#done_shards[@]} shard(s) it had finished"; }
same_files "$tmp/ref" "$out2"
say "requeue + finalize $fid3: byte-identical to the reference ($nfiles files)"
timing "fault: submit to scancel" "$to_cancel_s"
timing "fault: scancel to CANCELLED" "$cancel_s"
timing "fault: requeue to task done" "$requeue_s"
timing "fault: finalize job (after it)" "$finalize2_s"

stop_daemons
timing "total" "$(elapsed "$start")"
echo "timings:"
printf '  %s\n' "${timings[@]}"
echo "PASS: Slurm job array conversion, cancelled task requeued: byte-identical to one process"
