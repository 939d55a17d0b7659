"""pipeline/outputs.py: the one list of names a run writes, the same names the writers use."""

import subprocess
import sys

from pipeline import graph, outputs
from transforms.sink import DOMAIN_ESTIMATES_FILE, ROOT_OF_STATUS


def test_the_writers_use_the_output_names():
    assert set(ROOT_OF_STATUS.values()) == set(outputs.ROOTS)
    assert graph.DEDUP_INDEX == outputs.DEDUP_INDEX
    assert DOMAIN_ESTIMATES_FILE == outputs.SYNTHETIC_BY_DOMAIN_STEM
    assert set(outputs.MANAGED) >= {
        outputs.STATS,
        outputs.REPORT,
        outputs.SYNTHETIC_BY_DOMAIN,
        *outputs.ROOTS,
    }


def test_output_names_load_no_beam():
    code = "import sys, pipeline.outputs; assert 'apache_beam' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
