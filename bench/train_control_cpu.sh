#!/bin/bash
# The per-frame control for models/starry_night_lite_stable: starry_night_lite
# trained exactly as long (150 + 450 steps, same seeds and recipe) WITHOUT the temporal term,
# so the temporal net's flicker and style loss can be compared with a net that had the same
# training. Results in $RUNS/starry_lite_control_long/model (default runs/).
exec "$(dirname "$0")/train_stable_cpu.sh" --control "$@"
