#!/bin/bash
# models/starry_night_lite_stable: the shipped starry_night_lite fine-tuned with the temporal
# term, in two stages on this project's 2-core CPU: 150 steps (seed 0), then 450 more
# from that net (seed 1). Same recipe as the net itself (lite, 256 px crops, batch 4, style
# weight 25 as in export/zoo.toml), lr 1e-4, temporal weight 200. Run folders go to $RUNS
# (default runs/ in the repository; e.g. RUNS=~/rtstyle-runs to keep them outside).
# With --control first (bench/train_control_cpu.sh): the same 600 steps WITHOUT the temporal
# term, into $RUNS/starry_lite_control_*, the per-frame net trained as long, for a fair comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=stable temporal=(--temporal-weight 200) runs="${RUNS:-runs}"
if [[ "${1:-}" == --control ]]; then
  shift
  kind=control temporal=()
fi
common=(--style ../shared/data/styles/starry_night_van_gogh.jpg --style-name starry_night_van_gogh
  --style-credit "The Starry Night, Vincent van Gogh (1889)" --style-license "public domain"
  --data ../shared/data/train_content --net lite --checkpoint-every 50 --device cpu
  --style-weight 25 --lr 0.0001 --quiet "${temporal[@]}" "${@}")
.venv/bin/rtstyle train "${common[@]}" --init models/starry_night_lite \
  --steps 150 --preview-every 50 --out "$runs/starry_lite_${kind}_ft"
.venv/bin/rtstyle train "${common[@]}" --init "$runs/starry_lite_${kind}_ft/model" \
  --steps 450 --seed 1 --preview-every 150 --out "$runs/starry_lite_${kind}_long"
.venv/bin/rtstyle export --model "$runs/starry_lite_${kind}_long/model"
# stable: copy $RUNS/starry_lite_stable_long/model to models/starry_night_lite_stable and
# rtstyle export --model models/starry_night_lite_stable
