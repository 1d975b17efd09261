#!/usr/bin/env bash
# Submits the RM-sycophancy 70B study as SLURM job arrays chained by dependencies (docs/scale-out.md):
#   extract (traits split)  ->  steer (layers of every trait split)
#   capture + replay + label (prompts split), at the same time as extract
#   then one unsharded process: every stage; it finds the sharded ones done, merges the label shards
#   into labels.json and runs intervene, analyze and report.
# Usage: TRAITLENS_CHECKOUT=... EXPERIMENT=... [SHARDS=8] [PARALLEL=8] ./submit.sh [extra sbatch options]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
job="$here/rm-sycophancy-70b.sbatch"
shards="${SHARDS:-8}"
# PARALLEL caps the tasks running at once (more shards than GPUs even out the hash split).
array="--array=0-$((shards - 1))${PARALLEL:+%$PARALLEL}"

# TRAITLENS_SHARD_COUNT makes the array index the shard index, so a failed task is resubmitted alone.
count="TRAITLENS_SHARD_COUNT=$shards"
extract=$(sbatch --parsable "$array" --export="ALL,STAGES=extract,$count" "$@" "$job")
steer=$(sbatch --parsable "$array" --dependency="afterok:$extract" --export="ALL,STAGES=steer,$count" "$@" "$job")
capture=$(sbatch --parsable "$array" --export="ALL,STAGES=capture+replay+label,$count" "$@" "$job")
rest=$(sbatch --parsable --dependency="afterok:$steer:$capture" --export=ALL,STAGES=all "$@" "$job")

echo "extract: $extract  steer: $steer  capture+replay+label: $capture  the rest: $rest"
echo "progress: pnpm traitlens status \$CONFIG --output \$EXPERIMENT (per stage and shard)"
