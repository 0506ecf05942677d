#!/bin/bash
# A gputrain sweep as a Slurm job array: 4 tasks, one GPU each, each
# training its shard of the grid (chapter 3's η × λ × seed for two hidden
# sizes: 2 × 3 × 2 × 4 = 48 networks) into a folder of its own. Slurm
# gives each task SLURM_ARRAY_TASK_ID (0..3 here) and the array's size in
# SLURM_ARRAY_TASK_COUNT, from which gputrain takes its shard; --array may
# start anywhere and have a step (--array=10-16:2), as gputrain reads
# SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_STEP too. Then merge:
#
#   sbatch docs/sweep/slurm-array.sh
#   sbatch --dependency=afterok:JOBID --wrap 'gputrain sweep merge results/shard-*'
#
# gputrain-cuda (make cuda) must be on the nodes' PATH beside gputrain, or
# use the container through your site's runtime (Apptainer, Pyxis).
#SBATCH --job-name=gputrain-sweep
#SBATCH --array=0-3
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=4
#SBATCH --time=02:00:00
#SBATCH --output=results/slurm-%A_%a.out
set -euo pipefail
mkdir -p results
exec gputrain sweep --device cuda \
  --sizes 784,30,10 --sizes 784,100,10 --cost cross-entropy \
  --eta 0.025,0.25,2.5 --lambda 0,5 --seed 1..4 --epochs 30 \
  --out "results/shard-${SLURM_ARRAY_TASK_ID}" --save-dir results/models
