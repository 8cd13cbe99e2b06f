"""Write a small ImageFolder of PNGs of mixed sizes for the own-model example (nothing downloaded).

Three classes of synthetic pictures on a noisy background: a bright disc (``disc``), a bright
horizontal bar (``bar``) and a bright ring (``ring``), at random positions and scales, saved at
three sizes (40x40, 56x44 and 64x64 pixels, width x height), so that the policy must declare
``preprocessing.resize``.

    python examples/own_model/make_data.py examples/own_model/data --per-class 40
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("bar", "disc", "ring")
SIZES = ((40, 40), (56, 44), (64, 64))
"""(width, height) of the written images, used in turn."""


def _picture(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    r = rng.uniform(0.15, 0.25) * min(width, height)
    d = np.hypot(xx - cx, yy - cy)
    if kind == "disc":
        shape = d < r
    elif kind == "ring":
        shape = np.abs(d - r) < 0.3 * r
    else:
        shape = (np.abs(yy - cy) < 0.3 * r) & (np.abs(xx - cx) < 1.5 * r)
    colour = rng.uniform(0.6, 1.0, 3)
    pixels = rng.uniform(0.0, 0.35, (height, width, 3)) + shape[..., None] * colour
    return (np.clip(pixels, 0, 1) * 255).astype(np.uint8)


def write_dataset(root: str | Path, per_class: int = 40, seed: int = 0) -> Path:
    """Write ``per_class`` PNGs per class under ``root/<class>/``; return ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            width, height = SIZES[i % len(SIZES)]
            Image.fromarray(_picture(kind, width, height, rng)).save(root / kind / f"{i:03d}.png")
    return root


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--per-class", type=int, default=40)
    args = parser.parse_args()
    print(write_dataset(args.root, args.per_class))
