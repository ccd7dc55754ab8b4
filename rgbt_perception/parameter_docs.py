"""docs/parameters.md from the node's parameter table (PARAMETERS): every parameter, its default,
whether it changes at run time, its range or choices and its meaning.

    python -m rgbt_perception.parameter_docs > docs/parameters.md

test/test_parameter_docs.py keeps the file equal to what this prints."""

from __future__ import annotations

from rgbt_perception.parameters import MODEL_SWITCHES, PARAMETERS, RUNTIME_PARAMETERS

HEADER = """# Parameters of the rgbt_perception node

Every parameter the node declares (`rgbt_perception/parameters.py`), with its default. Set them in
a params file (a copy of [config/rgbt.yaml](../config/rgbt.yaml), `params_file:=`), with `-p
name:=value`, or, for the most used, with a launch argument ([README](../README.md#launch-arguments)).
"run time": changes with `ros2 param set` from the next frame on; the others are read-only once
the node runs. Written by `python -m rgbt_perception.parameter_docs`; a test keeps it equal to the
node's table.

| parameter | default | run time | allowed | meaning |
| --- | --- | --- | --- | --- |
"""


def cell(value: object) -> str:
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def allowed(constraint: object) -> str:
    if constraint is None:
        return ""
    if constraint is MODEL_SWITCHES or (isinstance(constraint, tuple) and isinstance(constraint[0], str)):
        return ", ".join(cell(choice) for choice in constraint)
    low, high = constraint
    return f"{low} to {high}"


def markdown() -> str:
    rows = [f"| `{name}` | {cell(default)} | {'yes' if name in RUNTIME_PARAMETERS else ''} | {allowed(constraint)} "
            f"| {description.replace('|', '/')} |" for name, (default, description, constraint) in PARAMETERS.items()]
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
