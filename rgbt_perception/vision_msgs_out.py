"""The outputs in vision_msgs form, for rviz/Foxglove plugins and trackers that do not know
rgbt_msgs: salient objects as vision_msgs/Detection2DArray (bbox + score), the class list as
vision_msgs/LabelInfo (REP-2006 style class map for the semantic mask).

vision_msgs is not on PyPI: where it is not importable (the pip-only development route) these
topics are not created and the node says so once at start-up. The custom messages stay.
Supported: vision_msgs 4.x, what Humble, Jazzy and Kilted ship (BoundingBox2D.center is a
vision_msgs/Pose2D with a `position`; LabelInfo exists). Foxy's 3.x has no LabelInfo: the import
below fails there and the node runs without these topics, as on the pip route."""

from __future__ import annotations

try:
    from vision_msgs.msg import Detection2D, Detection2DArray, LabelInfo, ObjectHypothesisWithPose, VisionClass
except ImportError:  # pip-only route
    Detection2DArray = LabelInfo = None

AVAILABLE = Detection2DArray is not None
SALIENT_CLASS = "salient"  # the class_id of every detection (SAMSOD is class-agnostic)


def detections(header, objects) -> Detection2DArray:
    """SalientRegion objects (rgbt_perception.pipeline) as a Detection2DArray: the box centre
    and size in output pixels, score = the region's mean saliency."""
    message = Detection2DArray(header=header)
    for index, region in enumerate(objects):
        detection = Detection2D(header=header, id=str(index))
        center = detection.bbox.center.position
        center.x, center.y = region.x + region.width / 2.0, region.y + region.height / 2.0
        detection.bbox.size_x, detection.bbox.size_y = float(region.width), float(region.height)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = SALIENT_CLASS
        hypothesis.hypothesis.score = float(region.mean_saliency)
        detection.results.append(hypothesis)
        message.detections.append(detection)
    return message


def label_info(header, names) -> LabelInfo:
    """The semantic mask's class list: mask value i is class names[i]."""
    return LabelInfo(header=header, class_map=[VisionClass(class_id=i, class_name=n) for i, n in enumerate(names)],
                     threshold=0.0)
