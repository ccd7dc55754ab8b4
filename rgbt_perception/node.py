"""The rgbt_perception node: synchronized RGB + thermal in, SARTM / SAMSOD outputs out.

A frame's path, in six steps:
1. camera_inputs.py subscribes to the two cameras with the QoS the qos.* parameters ask for;
   `_on_rgb` / `_on_thermal` check each message's layout (rgbt_models.data.image_codec) and
   count a malformed one, throttled in the log (diagnostics/log_throttle.py).
2. The pairing of rgbt_models.data.pairing (sync.policy) pairs RGB with thermal; the stream
   health (rgbt_models.data.stream_health) notices thermal that is silent or never pairs.
3. `_on_pair` hands the newest pair to the worker thread (worker.py): a pair arriving while the
   models are busy replaces the pending one and is counted as skipped, never queued.
4. The worker decodes both images and runs pipeline.py: preprocess, SARTM and SAMSOD (or, with
   thermal missing or frozen, SAMSOD's RGB-only head and SARTM paused), postprocess.
5. outputs.py turns the result into messages for the topics someone subscribes to, stamped
   with the RGB image's stamp and frame; the frame's uncertainty
   (rgbt_models.evaluation.uncertainty) is measured after the masks went out and published last.
6. diagnostics/ counts and times every stage for /diagnostics (frame_stats.py) and decides the
   status line (node_status.py), WARN where the models are unsure (uncertainty.warn).
"""

from __future__ import annotations

import sys
import time
import traceback

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import SetBool

from rgbt_models.data.image_codec import (
    BadImage,
    check_message,
    decode_rgb,
    decode_thermal,
    has_finite_pixel,
    is_compressed,
)
from rgbt_models.data.pairing import make_pairing, stamp_seconds
from rgbt_models.data.stream_health import StreamHealth
from rgbt_perception.camera_inputs import incompatible_inputs, subscribe_cameras
from rgbt_perception.diagnostics.frame_stats import FrameStats
from rgbt_perception.diagnostics.log_throttle import ThrottledLog, reason_key
from rgbt_perception.diagnostics.memory import HeapTrimmer, resident_bytes
from rgbt_perception.diagnostics.node_status import is_degraded, status_line
from rgbt_perception.model_loading import build_pipeline
from rgbt_perception.outputs import RclpyMessages, advertise, frame_messages, node_messages
from rgbt_perception.overlay import LiveOverlay
from rgbt_perception.parameters import PARAMETERS, check_parameters, declare_parameters, pipeline_config
from rgbt_perception.pipeline import FrameRejected, InferenceCancelled, NonFiniteOutput
from rgbt_perception.process import SHUTDOWN_DEADLINE, StartInterrupted, run_node
from rgbt_perception.worker import Cancelled, InferenceWorker


class PerceptionNodeBase:
    """The node's behaviour (see the module docstring), shared by the plain node and the
    lifecycle node: `_start()` loads the models and creates the ROS entities and the worker,
    `_stop()` removes them again; `enabled` gates processing and publishing."""

    enabled = False
    started = False

    def _start(self) -> None:
        """Load the models, subscribe, advertise, start the worker and the diagnostics timer."""
        self._entities: list = []
        self.pipeline = build_pipeline(self.p, *self._start_loggers())

        # The RGB camera's calibration is republished scaled to the output size beside each output.
        self.camera_info: CameraInfo | None = None
        self.inputs = subscribe_cameras(self, self.p, self._on_rgb, self._on_thermal, self._on_camera_info,
                                        self._on_incompatible_qos)
        self._entities += self.inputs
        self.throttled = ThrottledLog(self.get_logger().warning, period=5.0)
        self.sync = make_pairing(
            self.p["sync.policy"], self._on_pair, self.p["sync.queue_size"], self.p["sync.slop"],
            self.p["sync.max_age"],
            on_reset=lambda why: self.throttled.warn("sync reset", f"synchronizer reset: {why}"))

        self.pubs, latched = advertise(self, self.pipeline)
        self.overlay = LiveOverlay(self, self.p["output.overlay_rate"])
        self._entities += latched
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._entities += [*self.pubs.values(), self.diagnostics_pub]

        self.stats = FrameStats()
        self.health = StreamHealth(self.p["thermal.timeout"], clock=self._health_clock())
        self.heap = HeapTrimmer()  # returns freed memory to the OS after bursts (rgbt_perception/diagnostics/memory.py)
        self.started_at = time.monotonic()
        self.messages = RclpyMessages()
        self.model_error_logged = False
        self._entities.append(self.create_timer(self.p["diagnostics_period"], self._publish_diagnostics))
        # The worker starts last: a signal that shuts rclpy down while the node is being built
        # makes the next rcl call fail, and that must not happen with a live worker thread.
        self.worker = InferenceWorker(self._process, cancel=lambda: self.pipeline.cancel())
        self.worker.start()
        self.started = True
        cameras = [e.topic_name for e in self._entities if type(e).__name__ == "Subscription"
                   and e.msg_type.__name__ in ("Image", "CompressedImage")]
        self.first_output_logged = False
        self.get_logger().info("rgbt_perception ready: models "
                               f"{'SARTM ' if self.pipeline.sartm else ''}{'SAMSOD' if self.pipeline.samsod else ''}"
                               f"; waiting for images on {' and '.join(cameras)}")

    def _health_clock(self):
        """The clock of the input health decisions (thermal missing, unpairable): the monotonic
        wall clock, or with use_sim_time the ROS clock, so that a bag played at any rate (or
        paused) degrades where its recording did."""
        if not self.get_parameter("use_sim_time").value:
            return time.monotonic
        clock = self.get_clock()
        return lambda: clock.now().nanoseconds / 1e9

    def _start_loggers(self):
        """(info, warning) for the start-up lines, unless a signal has shut rclpy down meanwhile
        (a lifecycle manager's configure, after process.StartSignals handed the signals to rclpy):
        then the start stops (StartInterrupted) before the next model loads, and nothing is logged
        into the closed context (rcl's "Failed to publish log message to rosout"). Two call sites:
        rclpy keeps one severity per line that logs."""
        logger = self.get_logger()

        def started() -> None:
            if not self.context.ok():
                raise StartInterrupted

        def info(message: str) -> None:
            started()
            logger.info(message)

        def warning(message: str) -> None:
            started()
            logger.warning(message)

        return info, warning

    def _stop(self) -> bool:
        """Stop the worker (bounded, see shutdown), remove the subscriptions, publishers and
        timer and drop the models. Returns whether the worker ended."""
        if not self.started:
            return True
        stopped = self.shutdown()
        # printed, not logged: after a signal the context is shut down and a log line would fail to
        # reach /rosout ("publisher's context is invalid")
        counts = self.stats.counts
        print(f"[rgbt_perception] stopped: {counts['processed']} frames answered, {counts['pairs']} pairs "
              f"received, {counts['bad']} bad messages", file=sys.stderr, flush=True)
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
        values = declare_parameters(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        return values

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """`ros2 param set` of a runtime parameter: refused with the start-up checks' reason, or
        applied from the next frame on (read-only ones never get here: rclpy refuses them)."""
        changes = {p.name: p.value for p in parameters if p.name in PARAMETERS}
        candidate = {**self.p, **changes}
        try:
            check_parameters(candidate)
            config = pipeline_config(candidate, self.pipeline.trained_thermal if self.started else None)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        self.p = candidate
        if self.started:  # (a lifecycle node that is not configured has no pipeline yet)
            self.pipeline.config = config  # one reference swap: the worker reads it once per stage
            if "sync.slop" in changes:
                self.sync.set_slop(candidate["sync.slop"])
            if "sync.max_age" in changes:
                self.sync.set_max_age(candidate["sync.max_age"])
            self.health.timeout = candidate["thermal.timeout"]
        if changes:  # (use_sim_time and rclpy's own parameters are not ours to report)
            self.get_logger().info("parameters changed: " + ", ".join(
                f"{name}={list(value) if type(value).__name__ == 'array' else value!r}"
                for name, value in changes.items()))
        return SetParametersResult(successful=True)

    # -- inputs ------------------------------------------------------------------------------
    def _bad(self, stream: str, error: Exception) -> None:
        self.stats.bad(stream)
        self.throttled.warn(f"bad {stream}: {reason_key(str(error))}", f"bad {stream} image: {error}")

    # Callbacks only validate the layout (no pixel work) and pair; decoding happens on the
    # worker for the one pair that is processed, so the executor keeps up with 30 Hz cameras.
    def _accepted(self, stream: str, msg: Image | CompressedImage) -> bool:
        """Counted; and whether it is processed: enabled, and a valid layout (a bad one is a
        counted, throttled warning). An all-NaN 32FC1 thermal frame must not pair and stall SARTM."""
        self.stats.count(stream)
        if not self.enabled:
            return False
        try:
            check_message(msg, stream, self.p["max_image_pixels"])
            if (stream == "thermal" and not is_compressed(msg) and msg.encoding == "32FC1"
                    and not has_finite_pixel(msg)):  # one vectorised pass, 32FC1 only
                raise BadImage("32FC1 thermal image has no finite pixel")
        except BadImage as error:
            self._bad(stream, error)
            return False
        self.health.seen(stream, stamp_seconds(msg))
        return True

    def _on_rgb(self, msg: Image | CompressedImage) -> None:
        if not self._accepted("rgb", msg):
            return
        if self.health.thermal_missing():
            if self.pipeline.samsod is not None:
                self._submit(msg, None)
            return
        self.sync.add(0, msg)
        if self.health.unpairable():  # both cameras publish, but their stamps never meet
            self.throttled.warn("unpairable", f"RGB and thermal both arrive but cannot be paired: "
                                f"{self.health.stamp_offset_text(self.p['sync.slop'])}; publishing RGB-only saliency")
            if self.pipeline.samsod is not None:
                self._submit(msg, None)

    def _on_thermal(self, msg: Image | CompressedImage) -> None:
        if self._accepted("thermal", msg):
            self.sync.add(1, msg)

    def _on_pair(self, rgb_msg: Image, thermal_msg: Image) -> None:
        rgb_stamp = stamp_seconds(rgb_msg)
        self.stats.paired(time.time() - rgb_stamp, rgb_stamp - stamp_seconds(thermal_msg))
        self.health.paired()
        self._submit(rgb_msg, thermal_msg)

    def _submit(self, rgb_msg: Image, thermal_msg: Image | None) -> None:
        if self.worker.submit((rgb_msg, thermal_msg, time.monotonic())):
            self.stats.count("skipped")

    @property
    def counts(self) -> dict[str, int]:
        return self.stats.counts

    @property
    def bad_reasons(self) -> dict[str, int]:
        return self.stats.bad_reasons

    @property
    def pending(self):
        """The pair waiting for the worker (None: none)."""
        return self.worker.pending

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def _on_incompatible_qos(self, event) -> None:
        text = (f"a publisher's QoS is incompatible with this node's camera subscription "
                f"(policy {event.last_policy_kind}); set qos.reliability to match the camera driver")
        self.get_logger().warning(text, throttle_duration_sec=5.0)

    # -- inference (on the worker thread) -------------------------------------------------------
    def _process(self, item) -> None:
        rgb_msg, thermal_msg, received = item
        picked = time.monotonic()
        limit = self.p["max_image_pixels"]
        try:  # every decode path: a malformed message is a counted bad message, never a crash
            rgb = decode_rgb(rgb_msg, limit)
            thermal = None if thermal_msg is None else decode_thermal(thermal_msg, limit)
        except (BadImage, ValueError) as error:
            self._bad("rgb" if thermal_msg is None else "pair", error)
            return
        try:
            wanted = self._wanted_outputs()
            # Detections are the salient objects in vision_msgs form: the pipeline makes objects;
            # a due overlay panel needs the class colours and the objects too.
            computed = wanted | self.overlay.wanted() | (
                {"saliency/objects"} if "saliency/detections" in wanted else set())
            thermal_stamp = None if thermal_msg is None else stamp_seconds(thermal_msg)
            result = self.pipeline.run(rgb, thermal, computed, thermal_stamp)
        except InferenceCancelled as cancelled:
            raise Cancelled from cancelled
        except (FrameRejected, ValueError) as error:  # incl. non-finite outputs: nothing is published
            if isinstance(error, NonFiniteOutput):
                self.stats.count("non_finite_outputs")
            self._bad("pair", error)
            return
        except Exception as error:  # a model failure must not kill the node
            self.stats.count("model_errors")
            if not self.model_error_logged:
                self.get_logger().error(f"model failed: {error}\n{traceback.format_exc()}")
                self.model_error_logged = True
            else:
                self.get_logger().error(f"model failed again: {error}", throttle_duration_sec=10.0)
            return
        if result.thermal_frozen:
            self.stats.count("thermal_frozen")
        if not self.enabled:  # disabled (or deactivated) while this frame ran: publish nothing
            return
        inferred = time.monotonic()
        try:
            header = rgb_msg.header
            messages = frame_messages(result, header, wanted - {"uncertainty"}, self.messages)
            messages.update(node_messages(result, header, wanted, self.camera_info))
            for topic, message in messages.items():
                self.pubs[topic].publish(message)
            self.overlay.publish(rgb, thermal, result, header, self.pipeline)
            # The uncertainty last: it is measured here, after the masks went out.
            for topic, message in frame_messages(result, header, wanted & {"uncertainty"}, self.messages).items():
                self.pubs[topic].publish(message)
        except Exception as error:  # e.g. RCLError when a reliable reader cannot keep up
            self.get_logger().warning(f"publishing failed: {error}", throttle_duration_sec=5.0)
        combined = result.uncertainty.get("combined", float("nan"))  # for /diagnostics (measured by now)
        self.stats.frame(received, picked, inferred, time.monotonic(), result.timings, combined)
        if not self.first_output_logged:  # once: the rest is counted in /diagnostics
            self.first_output_logged = True
            self.get_logger().info(f"first pair answered in {1000 * (time.monotonic() - received):.0f} ms "
                                   f"({'degraded: no thermal' if thermal is None else 'RGB and thermal'}); "
                                   "/diagnostics counts the rest")

    def _wanted_outputs(self) -> frozenset[str]:
        """The outputs somebody subscribes to: no work for the others."""
        return frozenset(topic for topic, pub in self.pubs.items() if pub.get_subscription_count() > 0)

    # -- diagnostics ---------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        self.heap.maybe_trim()
        array = DiagnosticArray(status=[self.diagnostic_status()])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def diagnostic_status(self) -> DiagnosticStatus:
        """The node's status since the last call: rates, counts, timings, mode and its reason."""
        rates = self.stats.rates()
        if (rates["rgb"] > 0 and rates["thermal"] == 0) or (rates["thermal"] > 0 and rates["rgb"] == 0):
            one = "rgb/image" if rates["rgb"] > 0 else "thermal/image"
            self.get_logger().warning(f"only {one} is arriving: check the other camera and its QoS",
                                      throttle_duration_sec=10.0)
        level, message = status_line(self.enabled, self.health.problem(self.p["sync.slop"]) if self.enabled else None,
                                     self.pipeline.freeze, self.p["thermal.freeze_policy"], self.stats.counts,
                                     self.stats.previous_counts, len(incompatible_inputs(self, self.inputs)),
                                     self.stats.reported_uncertainty, self.p["uncertainty.warn"])
        values = {**self.stats.values(rates), "sync dropped": str(self.sync.dropped),
                  "heap trims": str(self.heap.trims),
                  # for a robot left running all day: memory growth shows in its monitoring
                  "resident memory (MB)": f"{resident_bytes() / 2**20:.0f}",
                  "uptime (s)": f"{time.monotonic() - self.started_at:.0f}", "degraded": str(is_degraded(message))}
        level = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR)[level]
        return DiagnosticStatus(level=level, name=f"{self.get_fully_qualified_name()}: RGB-T perception",
                                message=message, hardware_id="rgbt_perception",
                                values=[KeyValue(key=k, value=v) for k, v in values.items()])

    def shutdown(self, deadline: float = SHUTDOWN_DEADLINE) -> bool:
        """Stop taking pairs, cancel a running inference (at its next module boundary) and wait
        for the worker up to `deadline` s. Returns whether the worker has ended."""
        if not self.started:
            return True
        return self.worker.stop(deadline)


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


def main(argv: list[str] | None = None, make_node=RGBTPerceptionNode) -> int:
    """python -m rgbt_perception.node / ros2 run rgbt_perception rgbt_perception_node."""
    return run_node(make_node, argv)


if __name__ == "__main__":
    sys.exit(main())

