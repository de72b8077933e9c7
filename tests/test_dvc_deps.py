"""Every stage's dependency list in dvc.yaml is closed under imports: editing any module a stage's code
imports re-runs that stage. A module left out (the new progress bars, the registry's comparison) meant
edits to it never re-ran the stages that use it, and `dvc repro` reported stale results as current.

The roots are the modules a stage lists (its module in `stages/` among them); `cli.py` is the dispatcher
for every stage (its function-level imports reach everything) and is neither followed nor listed, so
rewording a message re-runs nothing. Stages written once with `foreach` for both branches are checked
through their `do` body.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "oncofusion"
DISPATCHERS = {PACKAGE / "cli.py"}


def _module_file(dotted: str) -> Path | None:
    """src/oncofusion/a/b.py or src/oncofusion/a/b/__init__.py for ``oncofusion.a.b``."""
    parts = dotted.split(".")[1:]
    base = PACKAGE.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _with_packages(path: Path) -> set[Path]:
    """A module and the package __init__ files Python runs to import it."""
    found = {path}
    for parent in path.parents:
        if parent == PACKAGE.parent:
            break
        if (parent / "__init__.py").is_file():
            found.add(parent / "__init__.py")
    return found


def _imports(path: Path) -> set[Path]:
    """Files of the oncofusion modules ``path`` imports anywhere (module level or inside functions)."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name == "oncofusion" or name.startswith("oncofusion."):
                file = _module_file(name)
                if file is not None:
                    found |= _with_packages(file)
    return found


def _covered(path: Path, deps: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in deps)


def _stages() -> dict[str, list[Path]]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    listed = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        deps = [d if isinstance(d, str) else next(iter(d)) for d in body.get("deps", [])]
        listed[name] = [ROOT / d for d in deps if d.startswith("src/oncofusion")]
    return listed


def _stage_module(stage: str) -> Path:
    """The module a stage runs: `oncofusion <command>` → src/oncofusion/stages/<module>.py."""
    body = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    command = body.get("do", body)["cmd"].split()[1]
    module = {"simulate-variants": "variants_simulate"}.get(command, command.replace("-", "_"))
    return PACKAGE / "stages" / f"{module}.py"


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_a_stage_runs_its_own_module_and_lists_it(stage: str):
    module = _stage_module(stage)
    assert module.is_file(), f"dvc.yaml stage '{stage}' runs no module in src/oncofusion/stages/"
    assert module in _stages()[stage], f"dvc.yaml stage '{stage}' does not list {module.relative_to(ROOT)}"
    assert PACKAGE / "cli.py" not in _stages()[stage], (
        f"'{stage}' lists cli.py: a message edit would re-run it"
    )


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_a_stage_depends_on_every_module_its_code_imports(stage: str):
    deps = _stages()[stage]
    roots = {
        p
        for d in deps
        for p in ([d] if d.suffix == ".py" else sorted(d.rglob("*.py")))
        if p.is_file() and p not in DISPATCHERS
    }
    seen, queue = set(roots), list(roots)
    while queue:
        for imported in _imports(queue.pop()):
            if imported not in seen and imported not in DISPATCHERS:
                seen.add(imported)
                queue.append(imported)
    missing = sorted({str(p.relative_to(ROOT)) for p in seen if not _covered(p, deps)})
    assert not missing, f"dvc.yaml stage '{stage}' imports modules it does not list as deps: {missing}"
