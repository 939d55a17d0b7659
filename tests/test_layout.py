"""The layout's rules that a reader relies on: pure modules import no Apache Beam (only the stages' beam.py
files and pipeline/graph.py do), so `pristine score`, the benchmarks and the unit tests never pay for it."""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import transforms.read

REPO = Path(__file__).resolve().parents[1]


def modules_loading_beam(modules: list[str]) -> dict[str, list[str]]:
    """Each of `modules` imported alone in a fresh interpreter -> {module: the apache_beam modules it
    loaded}, for the modules that loaded any (a module must not lean on what another one loaded)."""
    code = (
        "import json, sys; __import__(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'apache_beam')))"
    )
    found = {}
    for name in modules:
        out = subprocess.run([sys.executable, "-c", code, name], check=True, capture_output=True, cwd=REPO)
        found[name] = json.loads(out.stdout)
    return {name: beam for name, beam in found.items() if beam}


def package_modules(package) -> list[str]:
    """A package and the modules directly in it."""
    return [
        package.__name__,
        *(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)),
    ]


def test_read_stage_imports_no_beam_outside_beam_py():
    modules = [m for m in package_modules(transforms.read) if not m.endswith(".beam")]
    assert "transforms.read.archive" in modules and len(modules) > 10
    assert modules_loading_beam(["transforms.crawl", "transforms.rows", *modules]) == {}


def test_the_check_sees_beam():
    assert modules_loading_beam(["transforms.read.beam"])["transforms.read.beam"]
