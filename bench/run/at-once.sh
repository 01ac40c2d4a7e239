#!/usr/bin/env bash
# at-once.sh N COMMAND [ARG...]: starts N copies of COMMAND at the same moment (as a node's MPI ranks
# start), waits for all of them and fails when one fails. bench/run/run.sh times it with hyperfine.
n=$1
shift
pids=()
for ((i = 0; i < n; i++)); do
  "$@" > /dev/null &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
