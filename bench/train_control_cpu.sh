#!/bin/bash
# The per-frame control for models/starry_night_lite_stable (issue 9): starry_night_lite
# trained on exactly as long (150 + 450 steps, same seeds and recipe) WITHOUT the temporal
# term, so the style loss and flicker of the temporal net can be compared with a net that
# had the same training. See bench/train_stable_cpu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--style ../shared/data/styles/starry_night_van_gogh.jpg --style-name starry_night_van_gogh
  --style-credit "The Starry Night, Vincent van Gogh (1889)" --style-license "public domain"
  --data ../shared/data/train_content --net lite --checkpoint-every 50 --workers 1 --device cpu
  --lr 0.0001 --quiet "${@}")
.venv/bin/rtstyle train "${common[@]}" --init models/starry_night_lite \
  --steps 150 --preview-every 50 --out runs/starry_lite_control_ft
.venv/bin/rtstyle train "${common[@]}" --init runs/starry_lite_control_ft/model \
  --steps 450 --seed 1 --preview-every 150 --out runs/starry_lite_control_long
.venv/bin/rtstyle export --model runs/starry_lite_control_long/model
