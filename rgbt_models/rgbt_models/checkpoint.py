"""Every checkpoint file the project reads or writes goes through this module: `read_checkpoint`
(torch.load with weights_only=True, failures as a CheckpointError naming the file) under our
model checkpoints, training states (last.pt), Meta's SAM 2 files (backbone/checkpoint.py) and
the authors' files (importing/). Each file is read once.

Model checkpoints: every weight of the model plus the config that rebuilds it.

Format: {"format": "rgbt_models", "kind": "samsod"|"sartm"|"sce", "version": 2, "config": dict,
"state_dict": {name: tensor}, "extra": dict}. Written atomically (temp file + rename) and
read with weights_only=True.

Version 2 (what is written) is self-contained: the state dict holds the whole model, the frozen
SAM 2 encoder included, so the file loads on a robot without Meta's SAM 2 file and from any
working directory (`backbone.checkpoint` stays in the config as a record of where the encoder
came from, and is never read on load). Version 1 (still read) holds only the trained weights,
the rest coming from the SAM 2 file its config names; `rgbt-export --format checkpoint`
rewrites such a file as version 2 where the SAM 2 file is at hand.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

FORMAT = "rgbt_models"
VERSION = 2
READABLE_VERSIONS = (1, 2)
KINDS = ("samsod", "sartm", "sce")  # sce: UUSOD's stage-1 saliency cue extractor
# A training state (last.pt, for --resume): what rgbt-train and rgbt-adapt write after every epoch.
STATE_KEYS = ("kind", "model", "optimizer", "scheduler", "epoch", "best", "torch_rng", "task_rng", "config")


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used, with the file and the reason in the message."""


def what_does_not_fit(problems: dict[str, list[str]], examples: int = 3) -> str:
    """'2 missing key(s) (a, b); 5 shape mismatch(es) (c, d, e and 2 more)' for the non-empty
    lists of `problems` (label -> items): the line a refused file's message carries."""
    parts = []
    for label, items in problems.items():
        if items:
            more = f" and {len(items) - examples} more" if len(items) > examples else ""
            parts.append(f"{len(items)} {label} ({', '.join(items[:examples])}{more})")
    return "; ".join(parts)


def read_checkpoint(path: str | Path) -> dict:
    """torch.load with weights_only=True, turning every failure into a CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # empty, truncated zip, pickle with code objects, not a torch file ...
        if path.stat().st_size == 0:
            raise CheckpointError(f"{path}: the file is empty (0 bytes), not a checkpoint") from error
        text = str(error).strip()
        if zip_cut_short(path):  # torch's zip without its end: the usual interrupted copy
            raise CheckpointError(f"{path}: cut short or damaged ({path.stat().st_size} bytes; its zip archive "
                                  "has no central directory): copy or download it again") from error
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint "
                              f"({type(error).__name__}{': ' + first_sentences(text) if text else ''})") from error


def zip_cut_short(path: Path) -> bool:
    """A zip archive (torch.save's format) whose end-of-central-directory record is missing: the
    file stops early (an interrupted download or copy)."""
    with path.open("rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            return False
        handle.seek(max(0, path.stat().st_size - 65_557))  # the record (22 bytes) + the longest comment
        return b"PK\x05\x06" not in handle.read()


def first_sentences(text: str, limit: int = 240) -> str:
    """The whole sentences of an error's first line that fit in `limit` characters (at least one,
    cut at a word)."""
    line = text.splitlines()[0]
    if len(line) <= limit:
        return line
    end = line.rfind(". ", 0, limit)
    return line[:end + 1] if end > 0 else line[:line.rfind(" ", 0, limit)] + " ..."


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """write(handle) into a temporary file beside `path`, fsync, then rename over `path`: a
    reader sees the old file or the new one, never half of one (a kill leaves a .tmp file). The
    file gets the permissions open() would give it (0666 less the umask), not mkstemp's 0600: a
    checkpoint is read by other users (the robot's service account)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask: from /proc/self/status where Linux gives it (reading it by setting it
    and back would change it process-wide for a moment, under other threads creating files)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save, atomically (see atomic_write)."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def save_model_checkpoint(path: str | Path, kind: str, config: dict, state_dict: dict[str, torch.Tensor],
                          extra: dict | None = None) -> None:
    """Write a self-contained checkpoint: `state_dict` must be the model's whole state dict."""
    atomic_torch_save({"format": FORMAT, "kind": kind, "version": VERSION, "config": config,
                       "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
                       "extra": extra or {}}, path)


def load_model_checkpoint(path: str | Path, kind: str | None = None) -> dict:
    """Read and validate one of our checkpoints (of model `kind`, or either); errors name the
    file and the problem."""
    content = read_checkpoint(path)
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        if isinstance(content, dict) and "model" in content and "optimizer" in content:
            hint = "a training state (last.pt) for --resume; use best.pt or final.pt"
        elif isinstance(content, dict) and "model" in content:
            hint = "an official SAM 2 file? it goes in backbone.checkpoint of the model config"
        elif isinstance(content, dict) and content and all(isinstance(v, torch.Tensor) for v in content.values()):
            hint = "a plain state_dict; rgbt-train writes checkpoints with their config"
        else:
            hint = f"found {type(content).__name__}"
        raise CheckpointError(f"{path}: not an rgbt_models model checkpoint ({hint})")
    if content.get("kind") not in KINDS or (kind is not None and content.get("kind") != kind):
        wanted = repr(kind) if kind else f"one of {KINDS}"
        raise CheckpointError(f"{path}: holds a {content.get('kind')!r} model, expected {wanted}")
    if content.get("version") not in READABLE_VERSIONS:
        newer = isinstance(content.get("version"), int) and content["version"] > VERSION
        raise CheckpointError(f"{path}: checkpoint format version {content.get('version')} is not supported "
                              f"(this rgbt_models reads version {VERSION}"
                              + ("; it was written by a newer rgbt_models: upgrade" if newer else "") + ")")
    for key in ("config", "state_dict"):
        if not isinstance(content.get(key), dict):
            raise CheckpointError(f"{path}: missing {key!r}")
    return content


def save_training_state(path: str | Path, state: dict) -> None:
    """last.pt: the STATE_KEYS of a run after an epoch, atomically."""
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise ValueError(f"a training state needs {missing}")
    atomic_torch_save(state, path)


def read_training_state(path: str | Path, kind: str) -> dict:
    """last.pt for --resume, checked: a training state of this kind, not a model checkpoint."""
    state = read_checkpoint(path)
    missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training state written by rgbt-train or rgbt-adapt (missing "
                              f"{missing}); remove it to start afresh")
    if state["kind"] != kind:
        raise CheckpointError(f"{path}: a training state of {state['kind']!r}, not {kind!r}")
    return state


class CheckpointedModel:
    """save / load in this format for a model class with `kind` and `config_class` whose
    constructor takes (config, pretrained=...); `from_checkpoint` builds the untrained model
    from a checkpoint's content (SARTM adds its text embeddings)."""

    kind: str
    config_class: type

    def save(self, path: str | Path, extra: dict | None = None) -> None:
        """A self-contained checkpoint (every weight: it loads without the SAM 2 file)."""
        save_model_checkpoint(path, self.kind, self.config.to_dict(), self.state_dict(), extra)

    @classmethod
    def from_checkpoint(cls, content: dict, pretrained: bool):
        return cls(cls.config_class.from_dict(content["config"]), pretrained=pretrained)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu", content: dict | None = None):
        """The model the checkpoint at `path` holds (`content`: the file already read and checked
        by load_model_checkpoint, so that it is read once)."""
        return restore_model(path, cls.kind, cls.from_checkpoint, content).to(map_location)


def restore_model(path: str | Path, kind: str, build: Callable[[dict, bool], torch.nn.Module],
                  content: dict | None = None) -> torch.nn.Module:
    """The model a checkpoint of `kind` holds, in eval mode on the CPU, with its trained input size.

    build(content, pretrained) constructs the untrained model from the checkpoint's content
    (read here unless given).
    A version-2 file supplies every weight, so the model is built without reading the SAM 2
    file and loaded strictly; a version-1 file supplies the trained part and the SAM 2 file its
    config names the rest (a missing one is an error naming both files)."""
    content = content if content is not None else load_model_checkpoint(path, kind)
    if content["version"] >= 2:
        model = build(content, False)
        load_state(model, content["state_dict"], path, complete=True)
    else:
        try:
            model = build(content, True)
        except CheckpointError as error:
            raise CheckpointError(f"{path}: a version-1 checkpoint (trained weights only) needs the SAM 2 file "
                                  f"it was trained from: {error}. Load it once where that file is and save it "
                                  "self-contained: rgbt-export --checkpoint FILE --format checkpoint") from error
        load_state(model, content["state_dict"], path, complete=False)
    model.input_size = trained_input_size(content)
    model.thermal_setup = trained_thermal_setup(content)
    model.input_geometry = trained_input_geometry(content)
    # The registration it was trained with (data/registration.py's record), None where unrecorded.
    model.trained_homography = (content.get("extra") or {}).get("homography")
    model.checkpoint_extra = dict(content.get("extra") or {})  # its record, for a tool that rewrites the file
    return model.eval()


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path, complete: bool) -> None:
    """Load a checkpoint's state dict strictly: every key must exist in `model` and fit; and
    every key of the model must be in it (complete: version 2), or every trainable parameter
    (the trained subset of version 1, the rest already read from the SAM 2 file)."""
    own = model.state_dict()
    unknown = [k for k in state if k not in own]
    mismatched = [k for k in state if k in own and own[k].shape != state[k].shape]
    needed = own if complete else [name for name, p in model.named_parameters() if p.requires_grad]
    missing = [k for k in needed if k not in state]
    if unknown or mismatched or missing:
        raise CheckpointError(f"{path}: does not fit the model its config describes "
                              f"(unknown {unknown[:3]}, shape mismatch {mismatched[:3]}, missing {missing[:3]})")
    model.load_state_dict(state, strict=complete)


def trained_thermal_setup(content: dict):
    """The ThermalSetup a checkpoint's model was trained with (rgbt-train and rgbt-adapt record
    it), or None for a checkpoint that records none (written before: the trainer's default then,
    minmax)."""
    from rgbt_models.data.thermal import ThermalSetup

    values = (content.get("extra") or {}).get("thermal")
    return ThermalSetup.from_dict(values) if values else None


def trained_input_geometry(content: dict):
    """How a frame becomes the model's input (data.geometry.InputGeometry): what rgbt-import records
    for the authors' models; resize with the area filter (ours) where nothing is recorded."""
    from rgbt_models.data.geometry import InputGeometry

    return InputGeometry.from_dict((content.get("extra") or {}).get("input"))


def trained_input_size(content: dict) -> tuple[int, int] | None:
    """The (height, width) a checkpoint's model was trained at (written by rgbt-train), if known."""
    size = (content.get("extra") or {}).get("input_size")
    return (int(size[0]), int(size[1])) if size else None


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files that an interrupted `atomic_torch_save` left in `folder`."""
    stale = sorted(Path(folder).glob(".*.pt.*.tmp")) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
