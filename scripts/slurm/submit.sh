#!/usr/bin/env bash
# Submits a moeckpt conversion to Slurm: a job array of N workers (convert.sbatch beside this
# script: task k runs `moeckpt convert IN OUT [options] --worker auto` and writes share k+1 of
# the shards) and a finalize job that runs once every task has succeeded, or is cancelled when
# one fails. IN and OUT must be on a file system every node sees.
#
#   scripts/slurm/submit.sh [-n WORKERS] [-c CPUS] IN OUT [convert options]
#
#   -n WORKERS  array tasks (default 4)
#   -c CPUS     --cpus-per-task of each task, which then runs that many threads
#
# Other sbatch options go in sbatch's environment variables, for both jobs: SBATCH_PARTITION,
# SBATCH_ACCOUNT, SBATCH_TIMELIMIT, SBATCH_QOS, ... MOECKPT names the program the tasks run
# (default: moeckpt on the nodes' PATH). Logs: moeckpt-convert-JOBID_TASK.out and
# moeckpt-finalize-JOBID.out in the current directory. Prints the two job ids:
#
#   array 1234: 4 tasks of moeckpt convert IN OUT ... --worker auto
#   finalize 1235: after every task of 1234 succeeded
#
# The same by hand:
#   jid=$(sbatch --parsable --array=0-3 convert.sbatch IN OUT [convert options])
#   sbatch --dependency=afterok:$jid --kill-on-invalid-dep=yes convert.sbatch --finalize OUT
#
# When a task fails or is cancelled, the finalize job is cancelled. Run the task again (it keeps
# the shards it finished) and finalize after it:
#   scontrol requeue 1234_2 && scontrol update jobid=1234_2 StartTime=now
#   sbatch --dependency=afterok:1234_2 --kill-on-invalid-dep=yes convert.sbatch --finalize OUT
set -euo pipefail

usage() {
  echo "usage: submit.sh [-n WORKERS] [-c CPUS] IN OUT [convert options]" >&2
  exit 2
}

workers=4
cpus=()
while getopts "n:c:h" opt; do
  case $opt in
    n) workers=$OPTARG ;;
    c) cpus=(--cpus-per-task "$OPTARG") ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
(($# >= 2)) || usage
if ! [[ $workers =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: -n needs a positive number, not '$workers'" >&2
  exit 2
fi
in=$1 out=$2
script=$(dirname "${BASH_SOURCE[0]}")/convert.sbatch

jid=$(sbatch --parsable --array=0-$((workers - 1)) "${cpus[@]}" "$script" "$@")
jid=${jid%%;*}  # "JOBID;CLUSTER" on a multi-cluster setup
fid=$(sbatch --parsable --job-name=moeckpt-finalize --output=%x-%j.out \
  --dependency="afterok:$jid" --kill-on-invalid-dep=yes "$script" --finalize "$out")
fid=${fid%%;*}
what="moeckpt convert $in $out"
if (($# > 2)); then what+=" ${*:3}"; fi
echo "array $jid: $workers tasks of $what --worker auto"
echo "finalize $fid: after every task of $jid succeeded"
