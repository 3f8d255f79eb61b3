"""Bundled demo images and clip (see the README's credits)."""

from importlib import resources
from pathlib import Path


def path(name: str) -> Path:
    return Path(str(resources.files(__name__).joinpath(name)))


DEMO_CONTENT = "tubingen.jpg"
DEMO_STYLE = "starry_night_van_gogh.jpg"
DEMO_CLIP = "sample_clip.mp4"
#: The style `make demo` uses (a model folder in the repository's models/).
DEMO_MODEL = "starry_night_lite"
