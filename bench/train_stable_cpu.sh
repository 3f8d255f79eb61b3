#!/bin/bash
# starry_night_lite_stable: the shipped starry_night_lite fine-tuned with the temporal term (issue 9)
cd "$(dirname "$0")/.."
.venv/bin/rtstyle train --style ../shared/data/styles/starry_night_van_gogh.jpg \
  --style-name starry_night_van_gogh --style-credit "The Starry Night, Vincent van Gogh (1889)" \
  --style-license "public domain" --data ../shared/data/train_content --out runs/starry_lite_stable_ft \
  --net lite --init models/starry_night_lite --steps 150 --checkpoint-every 50 --preview-every 50 \
  --workers 1 --device cpu --temporal-weight 200 --lr 0.0001 --quiet
