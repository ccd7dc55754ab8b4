"""KeyLedger: every key of a foreign state dict consumed exactly once, every tensor of ours filled."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from rgbt_models.checkpoint import CheckpointError, what_does_not_fit


class ImportError_(CheckpointError):  # noqa: N801 - "ImportError" is Python's own
    """A file that does not convert: the message names the file and what was expected."""


class KeyLedger:
    """Collects, for one conversion, which foreign key went where.

    `take(key)` consumes a key (a second take of the same key is an error), `drop(prefix, reason)`
    consumes every key under a prefix with the reason it is not needed, and `put(name, tensor)`
    fills one tensor of ours (a second put is an error). `finish` checks that nothing is left over
    on either side and returns our state dict.
    """

    def __init__(self, source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], path: str,
                 what: str) -> None:
        self.source, self.target, self.path, self.what = source, target, path, what
        self.consumed: dict[str, str] = {}  # foreign key -> our name, or "dropped: <reason>"
        self.filled: dict[str, torch.Tensor] = {}
        self.dropped: dict[str, int] = {}  # reason -> count of keys

    def take(self, key: str) -> torch.Tensor:
        if key not in self.source:
            raise ImportError_(f"{self.path}: not {self.what}: key {key!r} is missing")
        if key in self.consumed:
            raise ImportError_(f"{self.path}: key {key!r} consumed twice ({self.consumed[key]})")
        self.consumed[key] = "?"
        return self.source[key]

    def put(self, name: str, tensor: torch.Tensor, *keys: str) -> None:
        if name not in self.target:
            raise ImportError_(f"{self.path}: internal: our model has no {name!r}")
        if name in self.filled:
            raise ImportError_(f"{self.path}: {name!r} filled twice")
        expected = tuple(self.target[name].shape)
        if tuple(tensor.shape) != expected:
            raise ImportError_(f"{self.path}: not {self.what}: {', '.join(keys) or name} has shape "
                               f"{tuple(tensor.shape)}, expected {expected}")
        self.filled[name] = tensor.to(self.target[name].dtype)
        for key in keys:
            self.consumed[key] = name

    def move(self, key: str, name: str) -> None:
        """Copy one foreign key to one tensor of ours."""
        self.put(name, self.take(key), key)

    def move_prefix(self, prefix: str, ours: str, rename: Callable[[str], str] = lambda rest: rest) -> None:
        """Every not yet consumed key under `prefix` to `ours` + rename(rest of the key); a key with
        no tensor of ours to go to stays unconsumed (finish() names it)."""
        for key in [k for k in self.source if k.startswith(prefix) and k not in self.consumed]:
            name = ours + rename(key[len(prefix):])
            if name in self.target:
                self.move(key, name)

    def drop(self, prefix: str, reason: str) -> None:
        for key in [k for k in self.source if k.startswith(prefix) and k not in self.consumed]:
            self.consumed[key] = f"dropped: {reason}"
            self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def finish(self, allowed_unfilled: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
        """Our complete state dict, or one ImportError_ naming what is left over."""
        unexpected = [k for k in self.source if k not in self.consumed]
        missing = [k for k in self.target if k not in self.filled and k not in allowed_unfilled]
        if unexpected or missing:
            details = what_does_not_fit({"unexpected key(s)": unexpected, "tensor(s) of ours not in it": missing})
            raise ImportError_(f"{self.path}: not {self.what}: {details}")
        state = dict(self.filled)
        for name in allowed_unfilled:
            state.setdefault(name, self.target[name])
        return state

    def summary(self) -> dict:
        """Counts for --verify and the checkpoint's record of where its weights came from."""
        loaded = sum(1 for v in self.consumed.values() if not v.startswith("dropped"))
        return {"keys": len(self.source), "loaded": loaded,
                "dropped": dict(self.dropped), "tensors_filled": len(self.filled)}
