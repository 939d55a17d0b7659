"""The README's workflows, run as written (its own lines, taken from README.md), also from another directory."""

import gzip
import re
import subprocess

import pytest
from conftest import REPO

README = (REPO / "README.md").read_text()
PRISTINE = str(REPO / ".venv" / "bin" / "pristine")


def readme_block(containing: str) -> list[str]:
    """The command lines of the README's ```sh block that contains `containing` (comments dropped)."""
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        if containing in block:
            lines = [line.split("  #")[0].strip() for line in block.splitlines()]
            return [line for line in lines if line and not line.startswith("#")]
    raise AssertionError(f"no README sh block contains {containing!r}")


def sh(line: str, cwd, check: bool = True) -> subprocess.CompletedProcess:
    """A README line run in `cwd`: `.venv/bin/pristine` and `pipeline/...` are the checkout's."""
    line = line.replace(".venv/bin/pristine", PRISTINE).replace("cp pipeline/", f"cp {REPO}/pipeline/")
    done = subprocess.run(line, shell=True, cwd=cwd, capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """`make run`, twice, into a fresh out/sample-run beside a working directory that is not the checkout."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    out = cwd / "out" / "sample-run"
    assert "make run" in README
    for _ in range(2):  # the second run replaces the first (make run passes --overwrite)
        done = subprocess.run(
            ["make", "-C", str(REPO), "run", f"OUT={out}"], capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "accounting (HTML responses + unreadable = kept + rejected + failed): holds" in done.stdout
    assert (out / "stats.json").is_file() and not list(out.glob("_incomplete-*"))
    return cwd


def test_recurate_from_a_copied_config_in_another_directory(sample_run):
    lines = readme_block("pristine recurate")
    assert lines[0] == "cp pipeline/thresholds.toml my.toml"
    for line in lines:
        done = sh(line, cwd=sample_run)
    assert "re-decided" in done.stdout and "0 input file(s)" not in done.stdout
    stats = (sample_run / "out" / "sample-run-my" / "stats.json").read_text()
    assert '"accounting_ok": true' in stats


def test_bad_option_values_are_one_line_errors_leaving_nothing(tmp_path):
    sample = sorted((REPO / "sample").glob("*.warc.gz"))[0]
    for bad in (
        ["--runner", "DirectRuner"],
        ["--dedup-threshold", "1.5"],
        ["--dedup-threshold", "high"],
        ["--rows-per-file", "0"],
        ["--extract-time-limit", "-1"],
        ["--extract-processes", "0"],
        ["--input-format", "csv"],
        ["--extractor", "fast"],
    ):
        out = tmp_path / "out"
        argv = [PRISTINE, "run", "--input", str(sample), "--output", str(out), *bad]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=300)
        errors = [line for line in done.stderr.splitlines() if "apitools" not in line]
        assert done.returncode == 2 and len(errors) == 1, (bad, done.stderr)
        assert errors[0].startswith("pristine run: error: ") and bad[0].lstrip("-")[:5] in errors[0]
        assert not out.exists()


def test_verify_on_a_directory_that_is_no_run_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    done = subprocess.run([PRISTINE, "verify", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "is not a pristine run" in done.stderr


def test_score_on_broken_input_leaves_no_output(tmp_path):
    [line] = readme_block("pristine score --input")
    good = '{"text": "The river rose overnight and the bridge was closed to traffic."}\n'
    with gzip.open(tmp_path / "corpus.jsonl.gz", "wt") as f:
        f.write(good + '{"text": "cut off\n')
    done = sh(line, cwd=tmp_path, check=False)
    assert done.returncode == 2 and "corpus.jsonl.gz" in done.stderr
    assert not list(tmp_path.glob("scored*")) and not list(tmp_path.glob(".partial-*"))
    with gzip.open(tmp_path / "corpus.jsonl.gz", "wt") as f:
        f.write(good)
    done = sh(line, cwd=tmp_path)
    assert "scored 1 documents" in done.stdout and (tmp_path / "scored.parquet").stat().st_size > 0


def readme_python(containing: str) -> str:
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        if containing in block:
            return block
    raise AssertionError(f"no README python block contains {containing!r}")


def test_reading_the_output_as_one_dataset(sample_run):
    code = readme_python("read_parquet('{GLOB}'") + "\nprint(sorted(counts))\n"
    python = str(REPO / ".venv" / "bin" / "python")
    done = subprocess.run([python, "-c", code], cwd=sample_run, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "'kept'" in done.stdout and "'rejected'" in done.stdout


def test_the_python_api_example_runs_as_written(tmp_path):
    code = readme_python("from pipeline import api").replace("sample/", f"{REPO}/sample/")
    python = str(REPO / ".venv" / "bin" / "python")
    done = subprocess.run([python, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import pyarrow.parquet as pq

    out = tmp_path / "out" / "my-pipeline"
    rows = [
        r
        for root in ("curated", "rejected")
        if (out / root).exists()
        for r in pq.read_table(out / root).to_pylist()
    ]
    assert rows and {r["lang"] for r in rows} == {"en"}
    assert {r["extractor"] for r in rows} == {"resiliparse"} and all("dup_cluster_id" in r for r in rows)
