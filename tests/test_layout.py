"""The layout: Beam only in the stages' wrappers and what runs a pipeline; schema imports nothing from the
package; no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "transforms")

# Every module that runs Beam, and why. Every other module under pipeline/ and transforms/ must import
# without loading apache_beam (a stage's `beam.py` is its one Beam wrapper: they are found by name).
BEAM_MODULES = {
    "pipeline.graph": "wires the stages' composites into the job",
    "pipeline.api": "the stages' composites for pipelines of your own",
    "pipeline.run": "launches a pipeline: runner, staging directory, metrics into stats.json",
    "pipeline.beam_cache": "Beam's DoFn inspection and option views, cached while a job is built and run",
    "pipeline.backfill": "launches the batches of a backfill or a resumable run",
    "pipeline.options": "the PipelineOptions subclass every flag lives in",
    "pipeline.snapshots": "backfill: reads warc.paths.gz and its manifest through Beam's FileSystems",
    "transforms.beam_util": "what the stages' beam.py share: dead letters and stage clocks (Beam Metrics)",
    "transforms.dedup.spill": "dedup's spill files, through Beam's FileSystems (local disk, GCS, ...)",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> list[str]:
    """Every module of the packages (not `__main__` modules: importing one runs a command)."""
    paths = [p for package in PACKAGES for p in (REPO / package).rglob("*.py") if p.name != "__main__.py"]
    return sorted(module_name(p) for p in paths)


def is_beam_module(name: str) -> bool:
    return name in BEAM_MODULES or name.rsplit(".", 1)[-1] == "beam"


def import_alone(module: str) -> tuple[str, int, str]:
    """Import `module` in a fresh interpreter: (module, exit code, stdout: 'beam' when apache_beam was loaded)."""
    code = f"import sys; import {module}; print('beam' if 'apache_beam' in sys.modules else 'no beam')"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    return module, done.returncode, (done.stdout.strip() or done.stderr.strip().splitlines()[-1])


def assert_no_beam(modules: list[str]) -> None:
    """Each module, imported alone in a fresh interpreter, imports (no cycle breaks it) without Beam."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(import_alone, modules))
    failures = {module: out for module, code, out in results if code != 0}
    assert not failures, f"modules that do not import on their own: {failures}"
    with_beam = [module for module, _, out in results if out == "beam"]
    assert not with_beam, f"these modules load apache_beam (move the Beam part to a beam.py): {with_beam}"


def test_only_the_beam_wrappers_load_beam():
    modules = all_modules()
    assert set(BEAM_MODULES) <= set(modules), set(BEAM_MODULES) - set(modules)
    assert "transforms.schema" in modules and "transforms.signals.beam" in modules
    assert "transforms.read.archive" in modules and "transforms.crawl" in modules
    assert_no_beam([m for m in modules if not is_beam_module(m)])


def test_the_check_sees_beam():
    assert import_alone("transforms.read.beam")[1:] == (0, "beam")


def top_level_imports(path: Path) -> set[str]:
    """The package modules a module imports when it is loaded (not the imports inside functions or under
    `if TYPE_CHECKING`), with `from a.b import c` naming a.b.c when that is a module."""
    known = set(all_modules())
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names} & known
    return {name for name in found if name in known}


def test_schema_imports_nothing_from_the_package():
    tree = ast.parse((REPO / "transforms" / "schema.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in PACKAGES}, imported
    code = "import sys, transforms.schema; print(sorted(m for m in sys.modules if m.split('.')[0] in ('transforms', 'pipeline')))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.split() == ["['transforms',", "'transforms.schema']"]


def test_no_import_cycles():
    """The graph of module-level imports between the package's modules is acyclic. A module's import of
    its own parent packages is left out: Python has them loading already when it runs."""
    graph = {}
    for name in all_modules():
        path = REPO / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = REPO / name.replace(".", "/") / "__init__.py"
        edges = set()
        for imported in top_level_imports(path):
            parts = imported.split(".")
            # importing a.b.c runs a, a.b and a.b.c
            edges |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = edges - ancestors - {name}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != "open", f"import cycle: {' -> '.join([*path, node, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
