"""Classic augmentation of the radio-halo paper: rotations, flips, brightness scaling.

Rotations act on the full 300x300 image *before* the central cut, so the 64x64
cut-out never shows blank corners. Multiples of 90 deg are exact (``np.rot90``);
45 deg steps use bilinear interpolation. Paper profile: 8 rotations x 2 flips x 10
brightness factors = 160 variants per image.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import rotate

from .preprocess import central_cutout, side_cutouts

__all__ = ["variants", "rotate_cube", "augment", "augment_sides", "crop_centre", "rotations"]


def variants(config, rng: np.random.Generator) -> list:
    """The list of (angle_deg, flip, brightness) to apply to one image, drawn with ``rng``."""
    angles = [360.0 * i / config.n_rotations for i in range(config.n_rotations)]
    lo, hi = config.brightness_range
    out = []
    for angle in angles:
        for flip in config.flips:
            factors = [1.0] if config.n_brightness == 1 else rng.uniform(lo, hi, config.n_brightness)
            out.extend((angle, flip, float(b)) for b in factors)
    return out


def rotate_cube(cube: np.ndarray, angle: float) -> np.ndarray:
    """Rotate an (H, W, B) cube counter-clockwise by ``angle`` degrees about its centre."""
    rest = angle % 90.0
    if np.isclose(rest, 0.0) or np.isclose(rest, 90.0):
        return np.rot90(cube, k=int(round(angle / 90.0)) % 4, axes=(0, 1))
    return rotate(cube, angle, axes=(1, 0), reshape=False, order=1, mode="constant", cval=0.0)


def _flip(cube, flip):
    if flip == "none":
        return cube
    if flip == "horizontal":
        return cube[:, ::-1]
    if flip == "vertical":
        return cube[::-1]
    raise ValueError(f"unknown flip {flip!r}; use 'none', 'horizontal' or 'vertical'")


def _transformed(cube: np.ndarray, params: list):
    """Yield (flipped, rotated cube, brightness) for each (angle, flip, brightness); one rotation per angle."""
    rotated = {}
    for angle, flip, brightness in params:
        if angle not in rotated:
            rotated[angle] = rotate_cube(cube, angle)
        yield np.ascontiguousarray(_flip(rotated[angle], flip)), np.float32(brightness)


def augment(cube: np.ndarray, params: list, size: int = 64) -> np.ndarray:
    """Apply each (angle, flip, brightness) to a full (H, W, B) cube and cut the centre.

    Returns (len(params), size, size, B) float32 in the cube's unit.
    """
    out = np.empty((len(params), size, size, cube.shape[-1]), dtype=np.float32)
    for i, (image, brightness) in enumerate(_transformed(cube, params)):
        out[i] = central_cutout(image, size=size)[0] * brightness
    return out


def augment_sides(cube: np.ndarray, params: list, size: int = 64) -> np.ndarray:
    """The paper's four "empty" side cut-outs of each augmented copy of a (H, W, B) cube.

    Returns (4 * len(params), size, size, B) float32: copy i gives rows 4i ... 4i + 3.
    """
    return np.concatenate([side_cutouts(image, size) * brightness for image, brightness in _transformed(cube, params)])


def crop_centre(images: np.ndarray, size: int = 100) -> np.ndarray:
    """The central ``size`` x ``size`` px of a stack of images (n, S, S); 150 -> 100 removes a 25 px strip."""
    edge = (images.shape[1] - size) // 2
    if edge < 0:
        raise ValueError(f"cannot cut {size} px from {images.shape[1]} px images")
    return images[:, edge:edge + size, edge:edge + size]


def rotations(images: np.ndarray, labels: np.ndarray, n_angles: int, size: int = 100):
    """Every image of a stack (n, S, S) in [0, 1] at ``n_angles`` rotations evenly over 360°, centre-cut.

    The radio-galaxy (VAE) augmentation: 360 angles are the paper's 1° steps. Rotation is
    :func:`rotate_cube` with the images as bands. Returns images (n * n_angles, size, size)
    in [0, 1], rotation-major, and their labels.
    """
    from tqdm.auto import tqdm

    cube = np.moveaxis(np.asarray(images, np.float32), 0, -1)
    out = []
    for angle in tqdm(np.arange(n_angles) * 360.0 / n_angles, desc="rotations", disable=n_angles < 8):
        out.append(crop_centre(np.moveaxis(np.clip(rotate_cube(cube, angle), 0, 1), -1, 0), size))
    return np.concatenate(out).astype(np.float32), np.tile(labels, n_angles)

