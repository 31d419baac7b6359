"""The report as a reader opens it: `snakemake --report` of the shared end-to-end run, loaded in headless Chromium
(Debian's chromium, installed by the test when missing), its menu rendered, every figure decoded by the browser,
one figure shown; a screenshot is kept in test-artifacts/ as the test's artifact."""
import json

import pytest

import browser
from conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"
DECODE_FIGURES = """(async () => {
  const sizes = {};
  for (const [path, item] of Object.entries(results)) {
    if (!item.mime_type.startsWith("image/")) continue;
    const image = new Image();
    image.src = item.data_uri;
    try { await image.decode(); sizes[path] = [image.naturalWidth, image.naturalHeight]; }
    catch (error) { sizes[path] = [0, 0]; }
  }
  return sizes;
})()"""
SHOWN = """(image => image !== null && image.complete && image.naturalWidth > 0)(
  document.querySelector('img[src^="data:image/png"]'))"""


@pytest.fixture(scope="module")
def chromium():
    executable, why = browser.find_or_install()
    if executable is None:
        pytest.skip(why)
    return executable


@pytest.mark.workflow
def test_report_renders_in_headless_chromium(ci_report, chromium, tmp_path):
    page = browser.Browser(chromium, tmp_path / "profile")
    try:
        page.send("Runtime.enable", session=True)
        page.open(ci_report.as_uri())
        categories = page.wait_for("typeof categories !== 'undefined' && Object.keys(categories)")
        assert {"Data", "Representations", "Training", "Classification", "Embeddings", "Uncertainty", "Spectra",
                "Stellar parameters"} <= set(categories)
        page.wait_for(f"{json.dumps(categories)}.every(c => document.body.innerText.includes(c))")
        assert "from saved artifacts alone" in page.evaluate("workflow_desc")
        sizes = page.evaluate(DECODE_FIGURES)
        assert len(sizes) >= 15 and all(w > 200 and h > 100 for w, h in sizes.values()), sizes
        for figure in ("ci/report/uncertainty_reliability.png", "ci/report/uncertainty_risk_coverage.png",
                       "ci/report/uncertainty_scores.png", "specci/spectra/report/confusion.png",
                       "specci/spectra/report/redshift.png", "mist/figures/stellar.png"):
            assert any(path.endswith(figure) for path in sizes), (figure, list(sizes))
        assert not any(path.endswith("posteriors.png") for path in sizes)  # no benchmark stars in config/ci.yaml
        summary = next(path for path in sizes if path.endswith("dataset_summary.png"))
        page.evaluate("app.showCategory('Data')")
        page.wait_for("document.body.innerText.includes('lightcurves.png')")
        page.evaluate(f"app.setView({{content: 'img', contentPath: results[{json.dumps(summary)}].data_uri}})")
        page.wait_for(SHOWN)
        page.screenshot(ARTIFACTS / "report.png")
        errors = [e for e in page.events if e.get("method") == "Runtime.exceptionThrown"]
        assert not errors, errors[0]
    finally:
        page.close()
    shot = (ARTIFACTS / "report.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20000
