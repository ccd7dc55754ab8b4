"""rgbt-import: the authors' released weights as a checkpoint of ours, for the node and every tool.

    rgbt-import samsod-authors sam_rgbt.pth --output samsod.pt
    rgbt-import sartm-authors SARMT_PST_89.88.pth --dataset pst900 --output sartm.pt
    rgbt-import sartm-authors FILE --dataset mfnet --verify      # SHA-256 and contents, nothing written

The result is self-contained (no SAM 2 file needed) and records the authors' computation (SAMSOD:
no dense prompt in the decoder; SARTM: variant authors) and their evaluation's input handling
(SAMSOD: both images resized to 512x512; SARTM: zero-padded bottom/right to 1280x1280; RGB
ImageNet-normalised, thermal three channels in [0, 1]), so that rgbt-replay, rgbt-eval, rgbt-export,
`runtime: onnxruntime` and the node preprocess a frame as the authors' evaluation does. The file is
read with weights_only=True (a file that needs pickled code is refused, never run); every key is
loaded into exactly one tensor or dropped with its reason (SAM 2's video memory, CLIP, modules the
evaluation never runs), and anything left over on either side fails the import, naming it.
Nothing is written unless the whole conversion succeeded (atomic write). See docs/weights.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rgbt_models.cli.pipes import quiet_on_closed_pipe
from rgbt_models.runtime import threads as thread_policy

SOURCES = {"samsod-authors": "liuzywen/SAMSOD", "sartm-authors": "wahaha-debug/SARTM"}
# The thermal set-up recorded for imported models: 8-bit thermal (the authors' data sets) is divided
# by 255 in every mode; 16-bit radiometric frames get the percentile range tracked over time.
IMPORTED_THERMAL = {"normalization": "stable"}


def convert(kind: str, path: str, dataset: str | None):
    """(model, ledger, input spec) of one authors' file."""
    if kind == "samsod-authors":
        from rgbt_models.importing.samsod_authors import INPUT, convert_samsod

        model, ledger = convert_samsod(path)
        return model, ledger, dict(INPUT)
    from rgbt_models.importing.sartm_authors import convert_sartm, input_spec

    model, ledger = convert_sartm(path, dataset)
    return model, ledger, input_spec(model.input_size[0])


def describe(model, ledger) -> dict:
    config = model.config
    held = {"model": model.kind, "backbone": f"SAM {config.backbone.version} {config.backbone.name}",
            "input_size": list(model.input_size),
            "parameters_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2)}
    if model.kind == "sartm":
        held["classes"] = list(model.classes.names)
        held["lora_rank"] = config.lora_rank
    return {**held, **ledger.summary()}


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rgbt-import", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=tuple(SOURCES), help="whose file it is")
    parser.add_argument("file", help="the released weight file (a state dict)")
    parser.add_argument("--output", help="the checkpoint to write (required unless --verify)")
    parser.add_argument("--dataset", choices=("pst900", "mfnet", "fmb"),
                        help="sartm-authors: the data set the file was trained on (its class ids)")
    parser.add_argument("--verify", action="store_true",
                        help="print the file's SHA-256 and what it holds; write nothing")
    parser.add_argument("--threads", default="auto", type=thread_policy.argument, help=thread_policy.THREADS_HELP)
    args = parser.parse_args(argv)
    if args.source == "sartm-authors" and not args.dataset:
        parser.error("sartm-authors needs --dataset pst900|mfnet|fmb (the class ids of its head)")
    if args.source == "samsod-authors" and args.dataset:
        parser.error("--dataset is for sartm-authors (SAMSOD has no classes)")
    if not args.verify and not args.output:
        parser.error("--output FILE is required (or --verify)")
    thread_policy.apply(args.threads)
    from rgbt_models.checkpoint import CheckpointError
    from rgbt_models.data.thermal import ThermalSetup
    from rgbt_models.importing.source_file import sha256

    try:
        model, ledger, spec = convert(args.source, args.file, args.dataset)
    except CheckpointError as error:
        print(f"rgbt-import: {error}", file=sys.stderr)
        return 1
    digest = sha256(args.file)
    record = {"repository": SOURCES[args.source], "file": Path(args.file).name, "sha256": digest,
              **describe(model, ledger)}
    if args.verify:
        print(json.dumps(record, indent=2))
        return 0
    extra = {"input_size": list(model.input_size), "input": spec,
             "thermal": ThermalSetup(**IMPORTED_THERMAL).to_dict(), "imported": record}
    model.save(args.output, extra)
    dropped = "; ".join(f"{count}: {reason}" for reason, count in record["dropped"].items())
    print(f"rgbt-import: {args.output}: {record['model']} from {record['repository']} ({record['file']}, sha256 "
          f"{digest[:12]}...): {record['loaded']} of {record['keys']} keys loaded, "
          f"{record['keys'] - record['loaded']} dropped ({dropped})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
