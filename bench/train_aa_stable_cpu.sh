#!/bin/bash
# The anti-aliased lite net (bench/train_aa_cpu.sh) fine-tuned with the temporal term, with the
# settings of the first, 150-step stage of starry_night_lite_stable (bench/train_stable_cpu.sh),
# then its ONNX file.
cd "$(dirname "$0")/.."
.venv/bin/rtstyle train --style ../shared/data/styles/starry_night_van_gogh.jpg \
  --style-name starry_night_van_gogh --style-credit "The Starry Night, Vincent van Gogh (1889)" \
  --style-license "public domain" --data ../shared/data/train_content \
  --out runs/aa/starry_lite_aa_stable --net lite-aa --init runs/aa/starry_lite_aa/model \
  --steps 150 --checkpoint-every 50 --preview-every 50 --workers 1 --device cpu \
  --temporal-weight 200 --lr 0.0001 --quiet
.venv/bin/rtstyle export --model runs/aa/starry_lite_aa_stable/model
