"""Camera calibration for the outputs: the RGB camera's CameraInfo scaled to the output size.

Downstream nodes (projection to 3D, costmaps, image_geometry) pair a mask with the
camera_info beside it; the masks have the output resolution, so the intrinsics are scaled the
way image_proc's resize node scales them (fx, cx by the width ratio; fy, cy by the height
ratio; distortion and rectification unchanged)."""

from __future__ import annotations

from copy import deepcopy


def info_topic_for(image_topic: str) -> str:
    """image_transport's rule: camera_info is the sibling of the (resolved) image topic."""
    base = image_topic.rsplit("/", 1)[0] if "/" in image_topic.strip("/") else ""
    return f"{base}/camera_info" if base else "camera_info"


def scale_camera_info(info, height: int, width: int, header=None):
    """A copy of sensor_msgs/CameraInfo `info` for an output image of height x width showing
    what the camera image shows. CameraInfo keeps K and P in full-sensor pixels and describes a
    binned or cropped image with binning_x/y and roi; the copy states K and P directly in output
    pixels instead (crop offset subtracted, then scaled) with binning 0 and an empty roi, the
    form every consumer reads without further steps. `header`, when given, replaces the stamp
    and frame_id (the outputs' own)."""
    scaled = deepcopy(info)
    if header is not None:
        scaled.header = header
    roi = info.roi
    cropped = roi.width > 0 and roi.height > 0 and (roi.width, roi.height) != (info.width, info.height)
    x0, y0 = (roi.x_offset, roi.y_offset) if cropped else (0, 0)
    view_width, view_height = (roi.width, roi.height) if cropped else (info.width or width, info.height or height)
    sx, sy = width / view_width, height / view_height
    k, p = list(info.k), list(info.p)
    k[0], k[2], k[4], k[5] = k[0] * sx, (k[2] - x0) * sx, k[4] * sy, (k[5] - y0) * sy
    # P's 4th column holds fx * baseline terms (stereo): scaled like fx, fy.
    p[0], p[2], p[3] = p[0] * sx, (p[2] - x0) * sx, p[3] * sx
    p[5], p[6], p[7] = p[5] * sy, (p[6] - y0) * sy, p[7] * sy
    scaled.k, scaled.p = k, p
    scaled.width, scaled.height = int(width), int(height)
    scaled.binning_x = scaled.binning_y = 0
    scaled.roi.x_offset = scaled.roi.y_offset = scaled.roi.width = scaled.roi.height = 0
    scaled.roi.do_rectify = False
    return scaled
