#!/bin/bash
# An anti-aliased lite net for The Starry Night: the recipe of the shipped
# starry_night_lite (export/zoo.toml, 300 CPU steps) with --net lite-aa, then its ONNX file.
cd "$(dirname "$0")/.."
.venv/bin/rtstyle train --out runs/aa/starry_lite_aa --steps 300 --device cpu \
  --checkpoint-every 100 --style ../shared/data/styles/starry_night_van_gogh.jpg \
  --data ../shared/data/train_content --net lite-aa --preset default \
  --style-name starry_night_van_gogh --style-credit "The Starry Night, Vincent van Gogh (1889)" \
  --style-license "public domain" --style-weight 10.0 --quiet
.venv/bin/rtstyle export --model runs/aa/starry_lite_aa/model
