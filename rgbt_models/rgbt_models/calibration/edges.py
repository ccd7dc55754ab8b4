"""RGB-thermal registration without a target: the thermal -> RGB homography from unlabeled pairs.

Coarse to fine, on edge orientation (orientation.py), all frames together (the cameras' geometry
is the same in every frame; the scenes differ):

1. **Search** at about 192 px wide: every scale in 0.90-1.10 and rotation in +-4 deg on a grid,
   the thermal field warped by it and correlated with the RGB field at every shift within 12 % of
   the width (a template match); the surfaces summed over the frames with the most structure. The
   best (scale, rotation, shift) starts step 2: a local method from the identity (ECC on
   gradient magnitudes) has a basin of a few pixels, the search covers the whole range.
2. **Refine** at up to 640 px wide, three rounds: the RGB image cut into tiles; each tile's
   offset against the thermal field warped by the current estimate found by the same correlation
   (to a sub-pixel), every frame's tiles pooled, and an affine map (or homography) fitted to them
   with RANSAC.
3. **Check** before accepting, and refuse with the reason otherwise: enough frames with edges in
   both cameras; a search peak that stands out (repetitive or unrelated edges give a flat
   surface); enough matched tiles in enough frames; every frame's own tiles agreeing with the
   answer (median offset, `max_spread`); and the answer explaining the edges: its orientation
   correlation above MIN_SCORE and above the answer moved by a few pixels in any direction.

Output: `thermal.homography` (thermal pixel -> RGB pixel), what the node's parameter takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from rgbt_models.calibration.orientation import (
    correlation_surface,
    orientation_field,
    peak,
    similarity,
    similarity_terms,
    warp_field,
)
from rgbt_models.calibration.result import (
    Calibration,
    CalibrationRefused,
    apply_homography,
    gray_unit,
    turn_about,
)

MOTIONS = ("affine", "homography")
MIN_FRAMES = 3
MIN_EDGE_SHARE = 0.02  # a frame needs this share of strong-gradient pixels to be used
SEARCH_WIDTH = 192
SEARCH_FRAMES = 8
SCALES = tuple(np.round(np.arange(0.90, 1.1001, 0.0125), 4))
ANGLES_DEG = tuple(np.round(np.arange(-4.0, 4.001, 0.75), 3))
MAX_SHIFT = 0.12  # share of the width
REFINE_WIDTH = 640
TILE = 64
REACHES = (8, 4, 2)  # refinement rounds: how far a tile may move (refine-level px)
MIN_TILE_PEAK = 0.15
MIN_TILE_EDGES = 0.03  # mean orientation magnitude of a tile in both cameras
MIN_TILES = 12
MIN_SEARCH_PROMINENCE = 0.05
MIN_SCORE = 0.1
MIN_MARGIN = 0.08  # share of the score by which the answer beats itself moved NUDGE px
NUDGE = 4  # refine-level px the answer is moved by to check that it explains the edges


@dataclass
class Level:
    """One pair at one working resolution: the RGB field and the thermal image to warp."""

    factor: float  # level px per RGB px
    size: tuple[int, int]  # (width, height)
    fixed: np.ndarray  # RGB orientation field
    thermal: np.ndarray  # thermal gray at the level's size
    to_level: np.ndarray  # thermal native px -> thermal level px

    def warp(self, homography: np.ndarray) -> np.ndarray:
        """thermal level px -> RGB level px, for a full-resolution thermal -> RGB homography."""
        scale = np.diag([self.factor, self.factor, 1.0])
        return scale @ homography @ np.linalg.inv(self.to_level)

    def moving(self, homography: np.ndarray) -> np.ndarray:
        return warp_field(self.thermal, self.warp(homography), self.size)


@dataclass
class Frame:
    edges: float  # the smaller of the two cameras' strong-edge shares
    search: Level
    refine: Level
    tiles: list = field(default_factory=list)  # (thermal native point, RGB point) pairs of the last round


def edge_share(gray: np.ndarray) -> float:
    """Share of pixels whose gradient magnitude stands out (> 1 std above the mean)."""
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0)
    gx, gy = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    return float((magnitude > magnitude.mean() + magnitude.std()).mean()) if magnitude.std() > 1e-6 else 0.0


def make_level(rgb: np.ndarray, thermal: np.ndarray, width: int) -> Level:
    height_full, width_full = rgb.shape
    factor = min(1.0, width / width_full)
    size = (max(16, round(width_full * factor)), max(16, round(height_full * factor)))
    rgb_level = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if factor < 1 else rgb
    thermal_level = cv2.resize(thermal, size, interpolation=cv2.INTER_AREA)
    to_level = np.diag([size[0] / thermal.shape[1], size[1] / thermal.shape[0], 1.0])
    return Level(size[0] / width_full, size, orientation_field(rgb_level), thermal_level, to_level)


def prepare(rgb: np.ndarray, thermal: np.ndarray) -> Frame:
    rgb_gray, thermal_gray = gray_unit(rgb), gray_unit(thermal)
    resized = cv2.resize(thermal_gray, rgb_gray.shape[::-1], interpolation=cv2.INTER_AREA)
    return Frame(min(edge_share(rgb_gray), edge_share(resized)), make_level(rgb_gray, thermal_gray, SEARCH_WIDTH),
                 make_level(rgb_gray, thermal_gray, REFINE_WIDTH))


def identity(level: Level) -> np.ndarray:
    """The full-resolution homography that only matches the two cameras' sizes."""
    return np.diag([1 / level.factor, 1 / level.factor, 1.0]) @ level.to_level


def about_centre(level: Level, scale: float, degrees: float) -> np.ndarray:
    """Level px -> level px: a scale and rotation about the image centre."""
    return turn_about(((level.size[0] - 1) / 2, (level.size[1] - 1) / 2), scale, degrees)


def search(frames: list[Frame]) -> tuple[np.ndarray, float]:
    """The best (scale, rotation, shift) over the grid, as a full-resolution homography, and the
    prominence of its peak (how far it stands above the best shift more than 3 px away)."""
    chosen = sorted(frames, key=lambda f: f.edges, reverse=True)[:SEARCH_FRAMES]
    reach = max(2, round(MAX_SHIFT * chosen[0].search.size[0]))
    best = (-np.inf, None, None)
    for scale in SCALES:
        for degrees in ANGLES_DEG:
            surface = None
            for frame in chosen:
                level = frame.search
                start = about_centre(level, scale, degrees)
                moving = warp_field(level.thermal, start, level.size)
                one = correlation_surface(level.fixed, moving, reach)
                surface = one if surface is None else surface + one
            surface /= len(chosen)
            value = float(surface.max())
            if value > best[0]:
                best = (value, (scale, degrees), surface)
    _, (scale, degrees), surface = best
    dx, dy, value = peak(surface)
    row, column = np.unravel_index(int(np.argmax(surface)), surface.shape)
    ys, xs = np.ogrid[:surface.shape[0], :surface.shape[1]]
    rival = float(surface[(ys - row) ** 2 + (xs - column) ** 2 > 9].max())
    level = chosen[0].search
    shift = np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]])
    level_map = shift @ about_centre(level, scale, degrees)
    return np.diag([1 / level.factor, 1 / level.factor, 1.0]) @ level_map @ level.to_level, value - rival


def match_tiles(frame: Frame, homography: np.ndarray, reach: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(thermal native point, RGB full point) for every tile of the RGB image whose offset against
    the warped thermal field is clear."""
    level = frame.refine
    moving = level.moving(homography)
    padded = cv2.copyMakeBorder(level.fixed, reach, reach, reach, reach, cv2.BORDER_CONSTANT, value=(0.0, 0.0))
    to_native = np.linalg.inv(level.to_level) @ np.linalg.inv(level.warp(homography))
    width, height = level.size
    matches = []
    for top in range(0, height - TILE + 1, TILE // 2):
        for left in range(0, width - TILE + 1, TILE // 2):
            template = moving[top:top + TILE, left:left + TILE]
            if np.count_nonzero(template[..., 0]) < 0.8 * TILE * TILE:
                continue
            fixed_tile = level.fixed[top:top + TILE, left:left + TILE]
            if min(np.abs(fixed_tile).mean(), np.abs(template).mean()) < MIN_TILE_EDGES:
                continue  # a flat tile in either camera says nothing
            window = padded[top:top + TILE + 2 * reach, left:left + TILE + 2 * reach]
            surface = cv2.matchTemplate(window, template, cv2.TM_CCORR_NORMED)
            dx, dy, value = peak(surface)
            if value < MIN_TILE_PEAK or max(abs(dx), abs(dy)) >= reach - 0.5:
                continue  # weak, or at the edge of the reach: the true offset may lie beyond it
            centre = np.array([left + TILE / 2 - 0.5, top + TILE / 2 - 0.5])
            thermal_point = apply_homography(to_native, centre[None])[0]
            matches.append((thermal_point, (centre + np.array([dx, dy])) / level.factor))
    return matches


def fit(points: list[tuple[np.ndarray, np.ndarray]], motion: str, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The homography through the pooled tile matches (RANSAC), and which matches are inliers."""
    source = np.array([p for p, _ in points], np.float64)
    target = np.array([q for _, q in points], np.float64)
    cv2.setRNGSeed(0)
    if motion == "affine":
        matrix, inliers = cv2.estimateAffine2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=threshold,
                                               maxIters=4000, confidence=0.999, refineIters=20)
        homography = None if matrix is None else np.vstack([matrix, [0.0, 0.0, 1.0]])
    else:
        homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, threshold, maxIters=4000,
                                                 confidence=0.999)
    if homography is None:
        raise CalibrationRefused("the tiles' offsets fit no single map: too little structure common to both cameras")
    return homography / homography[2, 2], inliers.ravel().astype(bool)


def refine(frames: list[Frame], homography: np.ndarray, motion: str) -> np.ndarray:
    """Three rounds of tile matching and fitting. Refused when fewer than MIN_TILES tiles agree
    with the fit (RANSAC inliers): unrelated images give tiles whose offsets scatter."""
    for reach in REACHES:
        for frame in frames:
            frame.tiles = match_tiles(frame, homography, reach)
        pooled = [match for frame in frames for match in frame.tiles]
        if len(pooled) < MIN_TILES:
            raise CalibrationRefused(f"only {len(pooled)} tiles of the RGB images find their edges in the thermal "
                                     f"ones (at least {MIN_TILES}): too little structure common to both cameras")
        threshold = max(1.0, 1.5 / frames[0].refine.factor)
        homography, inliers = fit(pooled, motion, threshold)
        if inliers.sum() < MIN_TILES:
            raise CalibrationRefused(f"only {inliers.sum()} of {len(pooled)} matched tiles agree on one map (at least "
                                     f"{MIN_TILES}): too little structure common to both cameras")
    return homography


def frame_offsets(frames: list[Frame], homography: np.ndarray) -> list[float]:
    """For every frame with at least 3 matched tiles: how far its tiles sit from the answer (median
    offset vector's length, RGB px)."""
    offsets = []
    for frame in frames:
        if len(frame.tiles) >= 3:
            thermal = np.array([p for p, _ in frame.tiles])
            rgb = np.array([q for _, q in frame.tiles])
            offsets.append(float(np.linalg.norm(np.median(apply_homography(homography, thermal) - rgb, axis=0))))
    return offsets


def explained(frames: list[Frame], homography: np.ndarray) -> tuple[float, float]:
    """The answer's orientation correlation (over all frames' pixels) and its margin over the answer
    moved by NUDGE refine-level px in the eight directions (a share of the score: blurred edges,
    upsampled thermal images, give a broad peak, but the answer must be its top)."""
    def score(candidate: np.ndarray) -> float:
        return similarity(sum(similarity_terms(f.refine.fixed, f.refine.moving(candidate)) for f in frames))

    centre = score(homography)
    step = NUDGE / frames[0].refine.factor
    nudged = [score(np.array([[1, 0, dx * step], [0, 1, dy * step], [0, 0, 1.0]]) @ homography)
              for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
    return centre, (centre - max(nudged)) / max(abs(centre), 1e-6)


def calibrate(pairs, max_spread: float = 3.0, motion: str = "affine", min_frames: int = MIN_FRAMES) -> Calibration:
    """The thermal -> RGB homography from (rgb (H, W, 3) uint8, raw thermal) pairs of one camera
    pair. motion: 'affine' (6 degrees of freedom: cameras side by side with parallel axes, the
    robust default) or 'homography' (8: axes at an angle; needs structure across the whole view)."""
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}, got {motion!r}")
    offered = 0
    frames = []
    for rgb, thermal in pairs:
        offered += 1
        frame = prepare(rgb, thermal)
        if frame.edges >= MIN_EDGE_SHARE:
            frames.append(frame)
    if len(frames) < min_frames:
        raise CalibrationRefused(
            f"only {len(frames)} of {offered} frames have enough structure (edges in both cameras); at least "
            f"{min_frames} are needed: record a scene with objects, edges and temperature differences (not a blank "
            "wall or the sky)")
    start, prominence = search(frames)
    if prominence < MIN_SEARCH_PROMINENCE:
        raise CalibrationRefused(f"no alignment stands out in the coarse search (its best peak is {prominence:.3f} "
                                 f"above any other, at least {MIN_SEARCH_PROMINENCE}): too little structure common "
                                 "to both cameras, or a repetitive scene")
    homography = refine(frames, start, motion)
    offsets = frame_offsets(frames, homography)
    used = len(offsets)
    if used < min_frames:
        raise CalibrationRefused(f"only {used} of {offered} frames match enough tiles (at least {min_frames}): too "
                                 "little structure common to both cameras")
    spread = float(np.median(offsets))
    if spread > max_spread:
        raise CalibrationRefused(f"the frames disagree: their own edges sit {spread:.1f} px from the answer (median; "
                                 f"at most {max_spread} px): too little common structure, parallax from near "
                                 "objects, or the cameras moved apart")
    score, margin = explained(frames, homography)
    before = similarity(sum(similarity_terms(f.refine.fixed, f.refine.moving(identity(f.refine))) for f in frames))
    if score < MIN_SCORE or margin < MIN_MARGIN:
        failed = ([f"orientation correlation {score:.3f} (at least {MIN_SCORE})"] if score < MIN_SCORE else []) + (
            [f"only {100 * margin:.1f} % above the answer moved {NUDGE} px (at least {100 * MIN_MARGIN:.0f} %)"]
            if margin < MIN_MARGIN else [])
        raise CalibrationRefused(f"the answer does not explain the edges: {'; '.join(failed)}: record more varied "
                                 "scenes (--frames N takes more of the bag's frames)")
    return Calibration(homography, score, before, spread, used, offered, margin, prominence)
