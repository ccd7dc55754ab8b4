"""The import graph of the two packages: no circle anywhere (imports inside functions count too),
and no import runs back up (rgbt_models never imports rgbt_perception)."""

from __future__ import annotations

import ast
from pathlib import Path

from rgbt_perception.testing.ros_harness import REPO_ROOT

ROOTS = {"rgbt_models": REPO_ROOT / "rgbt_models" / "rgbt_models", "rgbt_perception": REPO_ROOT / "rgbt_perception"}


def module_files() -> dict[str, Path]:
    modules = {}
    for package, folder in ROOTS.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports (the deepest existing module of each dotted name)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    modules = module_files()
    edges = {name: imports_of(name, path, modules) for name, path in modules.items()}
    # A module's own package (its __init__) is imported first anyway: not an edge of the design.
    return {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_there_is_no_import_circle():
    assert cycles(graph()) == []


def test_the_model_library_never_imports_the_ros_package():
    upward = {name: sorted(t for t in targets if t.startswith("rgbt_perception"))
              for name, targets in graph().items() if name.startswith("rgbt_models")}
    assert {name: targets for name, targets in upward.items() if targets} == {}


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


MODEL_PACKAGES = ("rgbt_models.backbone", "rgbt_models.samsod", "rgbt_models.sartm", "rgbt_models.lora",
                  "rgbt_models.uusod.cue_extractor", "rgbt_models.uusod.refiner")  # UUSOD's models
LAYERS_ABOVE_THE_MODELS = ("rgbt_models.runtime", "rgbt_models.evaluation")


def test_the_models_never_import_what_runs_or_evaluates_them():
    """The layer rule: a model takes tensors and returns tensors; how it is loaded, placed, run
    or scored is decided above it (runtime/, evaluation/), never inside."""
    above = {name: sorted(t for t in targets if t.startswith(LAYERS_ABOVE_THE_MODELS))
             for name, targets in graph().items() if name.startswith(MODEL_PACKAGES)}
    assert {name: targets for name, targets in above.items() if targets} == {}
    assert any(name.startswith("rgbt_models.samsod") for name in graph())  # the rule sees the models


def test_the_runtime_package_itself_imports_no_torch():
    """The thread policy must run before torch loads, and `import rgbt_models` runs it through
    rgbt_models.runtime: its __init__ (and threads.py) import nothing that loads torch."""
    import subprocess
    import sys

    code = "import sys, rgbt_models, rgbt_models.runtime.threads; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_at_most_six_loose_modules_lie_beside_the_model_librarys_packages():
    loose = sorted(p.name for p in ROOTS["rgbt_models"].glob("*.py"))
    assert len(loose) <= 6, loose
