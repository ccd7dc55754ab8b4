"""The rgbt_perception node: synchronized RGB + thermal in, SARTM / SAMSOD outputs out.

A thin ROS shell over rgbt_perception.pipeline. Callbacks only decode, pair and hand the
newest pair to a worker thread; a pair arriving while the models are busy replaces the
pending one and is counted as skipped (never queued). Thermal silent for longer than
thermal.timeout: SAMSOD's RGB-only head keeps publishing, SARTM pauses, diagnostics say
DEGRADED; full mode resumes by itself.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import replace

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest
from std_srvs.srv import SetBool

from rgbt_models import threads as thread_policy
from rgbt_msgs.msg import ClassInfo, ClassMap, SalientObject, SalientObjects, SemanticClasses
from rgbt_perception import vision_msgs_out
from rgbt_perception.camera_info import info_topic_for, scale_camera_info
from rgbt_perception.codec import (
    BadImage,
    array_to_image,
    check_message,
    decode_rgb,
    decode_thermal,
    has_finite_pixel,
    is_compressed,
)
from rgbt_perception.devices import select_device, uses_int8
from rgbt_perception.log_throttle import ThrottledLog, reason_key
from rgbt_perception.memory import HeapTrimmer
from rgbt_perception.model_loading import ModelLoadError, load_model
from rgbt_perception.parameters import (
    PARAMETERS,
    RUNTIME_PARAMETERS,
    check_parameters,
    check_unknown,
    pipeline_config,
)
from rgbt_perception.pipeline import FrameRejected, InferenceCancelled, NonFiniteOutput, Pipeline
from rgbt_perception.ros_compat import SubscriptionEventCallbacks, resolve_topic_name, spin_until_shutdown
from rgbt_perception.sync import make_synchronizer, stamp_seconds

SHUTDOWN_DEADLINE = 1.5  # s from SIGINT/SIGTERM to a stopped worker


class PerceptionNodeBase:
    """The node's behaviour (see the module docstring), shared by the plain node and the
    lifecycle node: `_start()` loads the models and creates the ROS entities and the worker,
    `_stop()` removes them again; `enabled` gates processing and publishing."""

    enabled = False
    started = False

    def _start(self) -> None:
        """Load the models, subscribe, advertise, start the worker and the diagnostics timer."""
        self._entities: list = []
        self.get_logger().info(thread_policy.describe(thread_policy.apply(self.p["threads"])))
        device, dtype, reason = select_device(self.p["device"], self.p["precision"])
        self.get_logger().info(f"inference device: {device} ({reason})")
        self.pipeline = Pipeline(pipeline_config(self.p), *self._load_models(), device=device, dtype=dtype,
                                 int8=uses_int8(device, self.p["precision"]))

        depth = self.p["qos.depth"]
        reliability = (ReliabilityPolicy.RELIABLE if self.p["qos.reliability"] == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        camera_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability)
        for stream, callback in (("rgb", self._on_rgb), ("thermal", self._on_thermal)):
            message_type, topic = self._camera_topic(stream)
            self._entities.append(self.create_subscription(
                message_type, topic, callback, camera_qos,
                event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)))
        # The RGB camera's calibration (image_transport's sibling topic of the resolved image
        # topic), republished scaled to the output size beside each output.
        self.camera_info: CameraInfo | None = None
        self._entities.append(self.create_subscription(
            CameraInfo, info_topic_for(resolve_topic_name(self, "rgb/image")), self._on_camera_info, camera_qos))
        self.throttled = ThrottledLog(self.get_logger().warning, period=5.0)
        self.sync = make_synchronizer(
            self._on_pair, self.p["sync.queue_size"], self.p["sync.slop"],
            on_reset=lambda why: self.throttled.warn("sync reset", f"synchronizer reset: {why}"))

        self.pubs = {}
        if self.pipeline.sartm is not None:
            self.pubs["semantic/mask"] = self.create_publisher(Image, "semantic/mask", 5)
            self.pubs["semantic/color"] = self.create_publisher(Image, "semantic/color", 5)  # output.color_overlay
            self.pubs["semantic/classes"] = self.create_publisher(SemanticClasses, "semantic/classes", 5)
            latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                                 reliability=ReliabilityPolicy.RELIABLE)
            self.class_map_pub = self.create_publisher(ClassMap, "semantic/class_map", latched)
            self.class_map_pub.publish(self._class_map())
            self._entities.append(self.class_map_pub)
            self.pubs["semantic/camera_info"] = self.create_publisher(CameraInfo, "semantic/camera_info", 5)
            if vision_msgs_out.AVAILABLE:
                self.label_info_pub = self.create_publisher(vision_msgs_out.LabelInfo, "semantic/label_info",
                                                            latched)
                self.label_info_pub.publish(
                    vision_msgs_out.label_info(self._class_map().header, self.pipeline.sartm.classes.names))
                self._entities.append(self.label_info_pub)
        if self.pipeline.samsod is not None:
            self.pubs["saliency/map"] = self.create_publisher(Image, "saliency/map", 5)
            self.pubs["saliency/mask"] = self.create_publisher(Image, "saliency/mask", 5)
            self.pubs["saliency/objects"] = self.create_publisher(SalientObjects, "saliency/objects", 5)
            self.pubs["saliency/camera_info"] = self.create_publisher(CameraInfo, "saliency/camera_info", 5)
            if vision_msgs_out.AVAILABLE:
                self.pubs["saliency/detections"] = self.create_publisher(
                    vision_msgs_out.Detection2DArray, "saliency/detections", 5)
        if not vision_msgs_out.AVAILABLE:
            self.get_logger().info("vision_msgs is not installed: saliency/detections and semantic/label_info are "
                                   "not published (apt install ros-$ROS_DISTRO-vision-msgs)")
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._entities += [*self.pubs.values(), self.diagnostics_pub]

        # State shared with the worker thread (guarded by self.lock).
        self.lock = threading.Condition()
        self.pending: tuple | None = None
        self.stopping = False
        self.counts = {"rgb": 0, "thermal": 0, "pairs": 0, "processed": 0, "skipped": 0, "bad": 0,
                       "model_errors": 0, "non_finite_outputs": 0}
        self.bad_reasons: dict[str, int] = {}
        self.latencies: deque[float] = deque(maxlen=200)
        self.heap = HeapTrimmer()  # returns freed memory to the OS after bursts (rgbt_perception/memory.py)
        self.inference: deque[float] = deque(maxlen=200)
        self.model_times: deque[float] = deque(maxlen=200)
        # Where a frame's time goes outside the models (s), for /diagnostics and the node benchmark.
        # The stamp age compares the RGB header stamp with the wall clock: meaningful for cameras
        # that stamp with the same clock (not for bag replay on sim time).
        self.stage_times: dict[str, deque[float]] = {name: deque(maxlen=200) for name in (
            "stamp age at pairing", "hand-off to worker", "decode", "pipeline outside models", "publish")}
        self.last_thermal_wall = None
        self.last_rgb_wall = None
        self.rgb_without_thermal_since: float | None = None
        self.last_stamp = {"rgb": None, "thermal": None}  # header stamps (s), for the pairing check
        self.last_pair_wall: float | None = None
        self.both_streams_since: float | None = None
        self.qos_warnings: list[str] = []
        self.model_error_logged = False
        self._last_counts = dict(self.counts)
        self._last_diag = time.monotonic()
        self._entities.append(self.create_timer(self.p["diagnostics_period"], self._publish_diagnostics))
        # The worker starts last: a signal that shuts rclpy down while the node is being built
        # makes the next rcl call fail, and that must not happen with a live worker thread.
        self.worker = threading.Thread(target=self._work, name="rgbt_inference", daemon=True)
        self.worker.start()
        self.started = True
        self.get_logger().info("rgbt_perception ready: models "
                               f"{'SARTM ' if self.pipeline.sartm else ''}{'SAMSOD' if self.pipeline.samsod else ''}")

    def _stop(self) -> bool:
        """Stop the worker (bounded, see shutdown), remove the subscriptions, publishers and
        timer and drop the models. Returns whether the worker ended."""
        if not self.started:
            return True
        stopped = self.shutdown()
        for entity in self._entities:
            destroy = {"Subscription": self.destroy_subscription, "Timer": self.destroy_timer}.get(
                type(entity).__name__, self.destroy_publisher)
            destroy(entity)
        self._entities, self.pubs, self.started, self.enabled = [], {}, False, False
        if stopped:
            del self.pipeline  # the models go with it
        return stopped

    def _on_enable(self, request, response):
        """std_srvs/SetBool: false stops processing and publishing (models stay loaded), true resumes."""
        self.enabled = bool(request.data)
        response.success, response.message = True, "enabled" if self.enabled else "disabled"
        self.get_logger().info(f"processing {response.message} (enable service)")
        return response

    # -- parameters --------------------------------------------------------------------------
    def _declare_parameters(self) -> dict:
        # Overrides (--params-file, -p, parameter_overrides) of names the node does not have would
        # be dropped silently by rclpy: refuse them, naming the nearest valid one. (rclpy keeps
        # them in Node._parameter_overrides on Humble, Jazzy and Kilted alike.)
        given = set(getattr(self, "_parameter_overrides", {}))
        check_unknown(given - {"use_sim_time"}, "parameter")
        values = {}
        for name, (default, description, constraint) in PARAMETERS.items():
            descriptor = ParameterDescriptor(description=description, read_only=name not in RUNTIME_PARAMETERS)
            if isinstance(constraint, tuple) and len(constraint) == 2 and not isinstance(constraint[0], str):
                low, high = constraint
                if isinstance(default, int) and not isinstance(default, bool):
                    descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
                else:
                    descriptor.floating_point_range = [FloatingPointRange(from_value=float(low),
                                                                          to_value=float(high), step=0.0)]
            elif isinstance(constraint, tuple):
                descriptor.additional_constraints = f"one of {', '.join(constraint)}"
            try:
                values[name] = self.declare_parameter(name, default, descriptor).value
            except rclpy.exceptions.InvalidParameterTypeException as error:
                given_value = self._parameter_overrides[name].value if name in self._parameter_overrides else None
                raise ValueError(f"parameter {name}={given_value!r} has the wrong type: expected "
                                 f"{type(default).__name__} (e.g. {default!r})") from error
        check_parameters(values)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        return values

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """`ros2 param set` of a runtime parameter: refused with the start-up checks' reason, or
        applied from the next frame on (read-only ones never get here: rclpy refuses them)."""
        changes = {p.name: p.value for p in parameters if p.name in PARAMETERS}
        candidate = {**self.p, **changes}
        try:
            check_parameters(candidate)
            config = pipeline_config(candidate)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        self.p = candidate
        if self.started:  # (a lifecycle node that is not configured has no pipeline yet)
            # One reference swap, the model size kept: the worker reads it once per stage.
            self.pipeline.config = replace(config, model_height=self.pipeline.config.model_height,
                                           model_width=self.pipeline.config.model_width)
            if "sync.slop" in changes:
                self.sync.set_slop(candidate["sync.slop"])
        self.get_logger().info("parameters changed: " + ", ".join(f"{k}={v!r}" for k, v in changes.items()))
        return SetParametersResult(successful=True)

    def _load_models(self):
        models = []
        for kind in ("sartm", "samsod"):
            if not self.p[f"{kind}.enabled"]:
                models.append(None)
                continue
            model = load_model(kind, self.p[f"{kind}.checkpoint"], self.p[f"{kind}.config"], self.p["allow_untrained"])
            if not self.p[f"{kind}.checkpoint"]:
                self.get_logger().warning(f"{kind}: UNTRAINED random weights (allow_untrained): "
                                          "outputs are meaningless")
            models.append(model)
        return models

    # -- inputs ------------------------------------------------------------------------------
    def _camera_topic(self, stream: str) -> tuple[type, str]:
        """(message type, topic) of a camera stream. Compressed: image_transport's naming, the
        base topic *after* remapping + '/compressed', so that remapping rgb/image to a camera's
        image_raw subscribes to image_raw/compressed."""
        if self.p[f"{stream}.transport"] == "compressed":
            return CompressedImage, resolve_topic_name(self, f"{stream}/image") + "/compressed"
        return Image, f"{stream}/image"

    def _bad(self, stream: str, error: Exception) -> None:
        with self.lock:
            self.counts["bad"] += 1
            self.bad_reasons[stream] = self.bad_reasons.get(stream, 0) + 1
        self.throttled.warn(f"bad {stream}: {reason_key(str(error))}", f"bad {stream} image: {error}")

    # Callbacks only validate the layout (no pixel work) and pair; decoding happens on the
    # worker for the one pair that is processed, so the executor keeps up with 30 Hz cameras.
    def _on_rgb(self, msg: Image | CompressedImage) -> None:
        self.counts["rgb"] += 1
        if not self.enabled:
            return
        try:
            check_message(msg, "rgb", self.p["max_image_pixels"])
        except BadImage as error:
            self._bad("rgb", error)
            return
        self.last_rgb_wall = time.monotonic()
        self._stream_seen("rgb", msg)
        if self.rgb_without_thermal_since is None:
            self.rgb_without_thermal_since = self.last_rgb_wall
        if self._thermal_missing():
            if self.pipeline.samsod is not None:
                self._submit(msg, None)
            return
        self.sync.add(0, msg)
        if self._unpairable():  # both cameras publish, but their stamps never meet
            self.throttled.warn("unpairable", f"RGB and thermal both arrive but cannot be paired: "
                                f"{self._stamp_offset_text()}; publishing RGB-only saliency")
            if self.pipeline.samsod is not None:
                self._submit(msg, None)

    def _on_thermal(self, msg: Image | CompressedImage) -> None:
        self.counts["thermal"] += 1
        if not self.enabled:
            return
        try:
            check_message(msg, "thermal", self.p["max_image_pixels"])
            # One vectorised pass, 32FC1 only: an all-NaN frame must not pair and stall SARTM.
            if not is_compressed(msg) and msg.encoding == "32FC1" and not has_finite_pixel(msg):
                raise BadImage("32FC1 thermal image has no finite pixel")
        except BadImage as error:
            self._bad("thermal", error)
            return
        self.last_thermal_wall = time.monotonic()
        self._stream_seen("thermal", msg)
        self.rgb_without_thermal_since = None
        self.sync.add(1, msg)

    def _decode(self, rgb_msg, thermal_msg) -> tuple[np.ndarray, np.ndarray | None]:
        """Pixels of a pair (raw or compressed; compressed data is decoded here, on the worker)."""
        limit = self.p["max_image_pixels"]
        rgb = decode_rgb(rgb_msg, limit)
        return rgb, None if thermal_msg is None else decode_thermal(thermal_msg, limit)

    def _thermal_missing(self) -> bool:
        """True once RGB frames have kept coming for thermal.timeout without any thermal frame
        (a slow camera pair is not a missing thermal camera)."""
        since = self.rgb_without_thermal_since
        return since is not None and time.monotonic() - since > self.p["thermal.timeout"]

    def _stream_seen(self, stream: str, msg: Image) -> None:
        self.last_stamp[stream] = stamp_seconds(msg)
        if self.both_streams_since is None and None not in (self.last_rgb_wall, self.last_thermal_wall):
            self.both_streams_since = time.monotonic()

    def _unpairable(self) -> bool:
        """True when both streams have been arriving for thermal.timeout without forming a pair
        (e.g. thermal stamps seconds behind RGB: a clock or driver problem)."""
        now, timeout = time.monotonic(), self.p["thermal.timeout"]
        if self.last_thermal_wall is None or now - self.last_thermal_wall > timeout:
            return False
        since = max(t for t in (self.last_pair_wall, self.both_streams_since, 0.0) if t is not None)
        return now - since > timeout

    def _stamp_offset_text(self) -> str:
        rgb, thermal = self.last_stamp["rgb"], self.last_stamp["thermal"]
        if rgb is None or thermal is None:
            return "no stamps yet"
        offset = thermal - rgb
        return (f"thermal stamps are {abs(offset):.3f} s {'ahead of' if offset > 0 else 'behind'} RGB "
                f"(sync.slop {self.p['sync.slop']} s)")

    def _on_pair(self, rgb_msg: Image, thermal_msg: Image) -> None:
        self.stage_times["stamp age at pairing"].append(time.time() - stamp_seconds(rgb_msg))
        self.counts["pairs"] += 1
        self.last_pair_wall = time.monotonic()
        self._submit(rgb_msg, thermal_msg)

    def _submit(self, rgb_msg: Image, thermal_msg: Image | None) -> None:
        with self.lock:
            if self.pending is not None:
                self.counts["skipped"] += 1
            self.pending = (rgb_msg, thermal_msg, time.monotonic())
            self.lock.notify()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def _on_incompatible_qos(self, event) -> None:
        text = (f"a publisher's QoS is incompatible with this node's camera subscription "
                f"(policy {event.last_policy_kind}); set qos.reliability to match the camera driver")
        self.qos_warnings.append(text)
        self.get_logger().warning(text, throttle_duration_sec=5.0)

    # -- inference -----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self.lock:
                while self.pending is None and not self.stopping:
                    self.lock.wait(0.2)
                if self.stopping:
                    return
                rgb_msg, thermal_msg, received = self.pending
                self.pending = None
            picked = time.monotonic()
            try:  # every decode path: a malformed message is a counted bad message, never a crash
                rgb, thermal = self._decode(rgb_msg, thermal_msg)
            except (BadImage, ValueError) as error:
                self._bad("rgb" if thermal_msg is None else "pair", error)
                continue
            try:
                wanted = self._wanted_outputs()
                # Detections are the salient objects in vision_msgs form: the pipeline makes objects.
                computed = wanted | {"saliency/objects"} if "saliency/detections" in wanted else wanted
                result = self.pipeline.run(rgb, thermal, computed)
            except InferenceCancelled:
                return
            except (FrameRejected, ValueError) as error:  # incl. non-finite outputs: nothing is published
                if isinstance(error, NonFiniteOutput):
                    self.counts["non_finite_outputs"] += 1
                self._bad("pair", error)
                continue
            except Exception as error:  # a model failure must not kill the node
                self.counts["model_errors"] += 1
                if not self.model_error_logged:
                    self.get_logger().error(f"model failed: {error}\n{traceback.format_exc()}")
                    self.model_error_logged = True
                else:
                    self.get_logger().error(f"model failed again: {error}", throttle_duration_sec=10.0)
                continue
            if not self.enabled:  # disabled (or deactivated) while this frame ran: publish nothing
                continue
            inferred = time.monotonic()
            try:
                self._publish(rgb_msg.header, result, wanted)
            except Exception as error:  # e.g. RCLError when a reliable reader cannot keep up
                self.get_logger().warning(f"publishing failed: {error}", throttle_duration_sec=5.0)
            done = time.monotonic()
            self.counts["processed"] += 1
            total = result.timings.get("total", 0.0)
            model = result.timings.get("sartm", 0.0) + result.timings.get("samsod", 0.0)
            self.inference.append(total)
            self.model_times.append(model)
            self.latencies.append(done - received)
            for name, seconds in (("hand-off to worker", picked - received),
                                  ("decode", inferred - picked - total),
                                  ("pipeline outside models", total - model),
                                  ("publish", done - inferred)):
                self.stage_times[name].append(seconds)

    def _wanted_outputs(self) -> frozenset[str]:
        """The outputs somebody subscribes to: no work for the others."""
        return frozenset(topic for topic, pub in self.pubs.items() if pub.get_subscription_count() > 0)

    def _publish(self, header, result, wanted: frozenset[str]) -> None:
        """Publish the outputs in `wanted` (those with subscribers when the frame started)."""
        if result.semantic_mask is not None:
            if "semantic/mask" in wanted:
                self.pubs["semantic/mask"].publish(array_to_image(result.semantic_mask, "mono8", header))
            if "semantic/color" in wanted and result.semantic_color is not None:
                self.pubs["semantic/color"].publish(array_to_image(result.semantic_color, "rgb8", header))
            if "semantic/classes" in wanted:
                self.pubs["semantic/classes"].publish(SemanticClasses(
                header=header, class_ids=[s.class_id for s in result.class_stats],
                    class_names=[s.name for s in result.class_stats],
                    pixel_fractions=[s.pixel_fraction for s in result.class_stats],
                    mean_confidences=[s.mean_confidence for s in result.class_stats]))
        if result.saliency_map is not None:
            if "saliency/map" in wanted:
                self.pubs["saliency/map"].publish(array_to_image(result.saliency_map, "mono8", header))
            if "saliency/mask" in wanted and result.saliency_mask is not None:
                self.pubs["saliency/mask"].publish(array_to_image(result.saliency_mask, "mono8", header))
        info = self.camera_info
        if info is not None:
            for prefix, image in (("semantic", result.semantic_mask), ("saliency", result.saliency_map)):
                if f"{prefix}/camera_info" in wanted and image is not None:
                    self.pubs[f"{prefix}/camera_info"].publish(scale_camera_info(info, *image.shape[:2], header))
        if "saliency/detections" in wanted and result.saliency_map is not None:
            self.pubs["saliency/detections"].publish(vision_msgs_out.detections(header, result.objects))
        if "saliency/objects" in wanted and result.saliency_map is not None:
            height, width = result.saliency_map.shape
            self.pubs["saliency/objects"].publish(SalientObjects(header=header, height=height, width=width, objects=[
                SalientObject(bbox=RegionOfInterest(x_offset=o.x, y_offset=o.y, width=o.width, height=o.height),
                              area=o.area, mean_saliency=o.mean_saliency, centroid_x=o.centroid_x,
                              centroid_y=o.centroid_y) for o in result.objects]))

    def _class_map(self) -> ClassMap:
        classes = self.pipeline.sartm.classes
        message = ClassMap(class_set=classes.name, ignore_id=classes.ignore_index,
                           classes=[ClassInfo(id=i, name=n, r=c[0], g=c[1], b=c[2])
                                    for i, (n, c) in enumerate(zip(classes.names, classes.colors))])
        message.header.stamp = self.get_clock().now().to_msg()
        return message

    # -- diagnostics ---------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        self.heap.maybe_trim()
        array = DiagnosticArray(status=[self.diagnostic_status()])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def diagnostic_status(self) -> DiagnosticStatus:
        """The node's status since the last call: rates, counts, timings, mode and its reason."""
        now = time.monotonic()
        elapsed = max(now - self._last_diag, 1e-6)
        rates = {k: (self.counts[k] - self._last_counts[k]) / elapsed for k in ("rgb", "thermal", "pairs", "processed")}
        self._last_counts_before = self._last_counts
        self._last_counts, self._last_diag = dict(self.counts), now
        level, message = DiagnosticStatus.OK, "running"
        timeout = self.p["thermal.timeout"]
        if not self.enabled:
            message = "disabled: not processing (enable service or lifecycle inactive)"
        silent = {name: wall is None or now - wall > timeout
                  for name, wall in (("rgb", self.last_rgb_wall), ("thermal", self.last_thermal_wall))}
        if not self.enabled:
            pass
        elif silent["rgb"] and silent["thermal"]:
            level, message = DiagnosticStatus.WARN, "no input: neither camera is publishing"
        elif self._thermal_missing() and self.last_rgb_wall is not None:
            level, message = DiagnosticStatus.WARN, "DEGRADED: thermal missing, saliency from RGB only, SARTM paused"
        elif self._unpairable():
            level, message = DiagnosticStatus.WARN, (f"DEGRADED: RGB and thermal cannot be paired "
                                                     f"({self._stamp_offset_text()}), saliency from RGB only")
        if (rates["rgb"] > 0 and rates["thermal"] == 0) or (rates["thermal"] > 0 and rates["rgb"] == 0):
            one = "rgb/image" if rates["rgb"] > 0 else "thermal/image"
            self.get_logger().warning(f"only {one} is arriving: check the other camera and its QoS",
                                   throttle_duration_sec=10.0)
        if self.counts["non_finite_outputs"] > self._last_counts_before.get("non_finite_outputs", 0):
            level, message = max(level, DiagnosticStatus.WARN), message + "; non-finite model outputs dropped"
        if self.qos_warnings:
            level, message = max(level, DiagnosticStatus.WARN), message + "; incompatible QoS on an input"
        if self.counts["model_errors"]:
            level = DiagnosticStatus.ERROR if self.counts["processed"] == 0 else max(level, DiagnosticStatus.WARN)
        values = {f"{k} rate (Hz)": f"{v:.2f}" for k, v in rates.items()}
        values.update({k: str(v) for k, v in self.counts.items()})
        values.update({f"bad {stream}": str(count) for stream, count in self.bad_reasons.items()})
        values["sync dropped"] = str(self.sync.dropped)
        if self.inference:
            values["inference median (ms)"] = f"{1000 * float(np.median(self.inference)):.1f}"
            values["model median (ms)"] = f"{1000 * float(np.median(self.model_times)):.1f}"
            values["model last frame (ms)"] = f"{1000 * self.model_times[-1]:.1f}"
        values.update({f"{name} median (ms)": f"{1000 * float(np.median(times)):.2f}"
                       for name, times in self.stage_times.items() if times})
        if self.latencies:
            values["latency median (ms)"] = f"{1000 * float(np.median(self.latencies)):.1f}"
            values["latency p95 (ms)"] = f"{1000 * float(np.percentile(self.latencies, 95)):.1f}"
        values["heap trims"] = str(self.heap.trims)
        values["degraded"] = str(message.startswith("DEGRADED"))
        return DiagnosticStatus(level=level, name=f"{self.get_fully_qualified_name()}: RGB-T perception",
                                message=message, hardware_id="rgbt_perception",
                                values=[KeyValue(key=k, value=v) for k, v in values.items()])

    def shutdown(self, deadline: float = SHUTDOWN_DEADLINE) -> bool:
        """Stop taking pairs, cancel a running inference (at its next module boundary) and wait
        for the worker up to `deadline` s. Returns whether the worker has ended."""
        if not self.started:
            return True
        with self.lock:
            self.stopping = True
            self.pending = None
            self.lock.notify_all()
        self.pipeline.cancel()
        self.worker.join(timeout=deadline)
        return not self.worker.is_alive()


class RGBTPerceptionNode(PerceptionNodeBase, Node):
    """The plain node: models loaded and processing from construction; `~/enable`
    (std_srvs/SetBool) pauses and resumes it."""

    def __init__(self, **node_options) -> None:
        """node_options go to rclpy's Node (context, parameter_overrides ... for in-process use)."""
        super().__init__("rgbt_perception", **node_options)
        self.p = self._declare_parameters()
        self.enabled = True
        self.create_service(SetBool, "~/enable", self._on_enable)
        self._start()  # last: it starts the worker and logs "ready"


START_ERRORS = (ModelLoadError, ValueError, rclpy.exceptions.InvalidParameterValueException)


class StartInterrupted(Exception):
    """SIGINT/SIGTERM arrived while the node was being built or configured: a clean stop."""


def main(argv: list[str] | None = None, make_node=RGBTPerceptionNode) -> int:
    rclpy.init(args=sys.argv if argv is None else argv)
    try:
        node = make_node()
    except START_ERRORS as error:
        print(f"[rgbt_perception] cannot start: {error}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    except (StartInterrupted, rclpy._rclpy_pybind11.RCLError) as error:
        # SIGINT/SIGTERM while starting (rcl calls fail on the shut-down context): a clean stop
        if isinstance(error, rclpy._rclpy_pybind11.RCLError) and rclpy.ok():
            raise
        rclpy.try_shutdown()
        return 0
    # One executor thread is enough (callbacks only validate and pair; inference has its own
    # thread) and measured far better: rclpy's MultiThreadedExecutor fell behind 2 x 30 Hz
    # camera streams on 2 cores while the models ran, receiving 1 message in 4, seconds late.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_shutdown(executor)
    finally:
        stopped = node._stop()
        executor.shutdown(timeout_sec=1.0)
        if not stopped:
            # One operation outlived the deadline. Tearing the process down around a running
            # worker aborts in C++ ("terminate called without an active exception"): leave now.
            print(f"[rgbt_perception] inference did not stop within {SHUTDOWN_DEADLINE} s; exiting without "
                  "waiting for it", file=sys.stderr, flush=True)
            os._exit(0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

