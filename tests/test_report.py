"""report.html: self-contained, and it renders with its charts in headless Chromium."""

import re
import shutil
import subprocess

import pytest
from conftest import REPO, WARC_SAMPLES
from PIL import Image

from pipeline import cli
from pipeline.report import STATUS_COLORS, bar_chart, histogram, interval_chart

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report-run")
    files = [
        WARC_SAMPLES / "commoncrawl" / "warcfile.warc.gz",
        WARC_SAMPLES / "other-crawls" / "example.warc.gz",
    ]
    assert cli.main(["run", "--input", *map(str, files), "--output", str(out), "--overwrite"]) == 0
    return out


def test_every_run_writes_a_self_contained_report(run_dir):
    page = (run_dir / "report.html").read_text()
    assert page.count("<svg") >= 5
    for title in (
        "Funnel",
        "Rejected, by first failed rule",
        "Kept documents by language",
        "Wall time per stage",
        "Estimated AI share, by cohort",
        "AI share by cohort: n, human reference and method",
        "Estimated AI share, by crawl",
    ):
        assert title in page
    # nothing to fetch: no scripts, no external references
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_pristine_report_regenerates_it(run_dir):
    (run_dir / "report.html").unlink()
    assert cli.main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").exists()
    assert cli.main(["report", str(run_dir / "nope")]) == 2


def test_report_renders_in_headless_chromium(run_dir):
    assert CHROMIUM, "chromium is not installed: `make test` installs Debian's chromium package"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    url = (run_dir / "report.html").as_uri()
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=900,2000", url],
        check=True,
        timeout=120,
        capture_output=True,
    )
    dom = subprocess.run(
        [*common, "--dump-dom", url], check=True, timeout=120, capture_output=True, text=True
    ).stdout
    assert dom.count("<svg") >= 5 and dom.count("<rect") > 20  # the charts made it into the rendered page
    image = Image.open(shot).convert("RGB")
    assert image.size == (900, 2000)
    colors = color_counts(image)
    # the bar colours of the charts are on screen, not a blank or error page
    for rgb in ((0x3B, 0x6E, 0xA5), (0xC8, 0x55, 0x3D)):
        assert colors.get(rgb, 0) > 500, rgb
    # on a wide window the charts use its width, not a fixed 720 px column
    wide = ARTIFACTS / "report-wide.png"
    subprocess.run(
        [*common, f"--screenshot={wide}", "--window-size=1400,1200", url],
        check=True,
        timeout=120,
        capture_output=True,
    )
    image = Image.open(wide).convert("RGB")
    bars = {(0x3B, 0x6E, 0xA5), (0xC8, 0x55, 0x3D), (0x58, 0x8B, 0x8B)}  # kept, rejected, the funnel
    columns = [
        x for x in range(image.width) if any(image.getpixel((x, y)) in bars for y in range(0, 1200, 3))
    ]
    assert columns and max(columns) > 0.7 * image.width


def color_counts(image):
    from collections import Counter

    return Counter(zip(*(band.tobytes() for band in image.split()), strict=True))


def test_chart_helpers_handle_empty_and_odd_values():
    assert bar_chart("x", []) == "" and histogram("x", {"a": []}) == "" and interval_chart("x", []) == ""
    svg = histogram("h", {"a": [0.0, 1.0, 0.5, float("nan"), None]})
    assert "n=3" in svg
    assert "<script" not in bar_chart("<script>", [("<b>", 1)])


def test_histograms_label_their_axis_and_keep_status_colours():
    svg = histogram("h", {"kept": [0.1, 0.2], "rejected": [0.9]})
    for tick in ("0", "0.1", "0.5", "0.9", "1"):
        assert f'text-anchor="middle">{tick}</text>' in svg
    only_rejected = histogram("h", {"kept": [], "rejected": [0.9]})
    assert f'fill="{STATUS_COLORS["rejected"]}"' in only_rejected
    assert f'fill="{STATUS_COLORS["kept"]}"' not in only_rejected
    funnel = bar_chart("f", [("kept", 3), ("rejected", 2)], colors=STATUS_COLORS)
    assert f'fill="{STATUS_COLORS["kept"]}"' in funnel and f'fill="{STATUS_COLORS["rejected"]}"' in funnel
