"""Report figures from saved artifacts: the data, model inputs, training, classification and embedding families."""
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from astroflow.clean import clean
from astroflow.errors import InputError
from astroflow.report import classification, data, embeddings, inputs, spectra, stellar, training, uncertainty
from astroflow.sources.simulate import simulate_survey
from astroflow.store import LightCurveStore, write_store
from test_materialize import params  # noqa: F401  (the schema's represent defaults, as a fixture)

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    return path.read_bytes()[:8] == PNG and path.stat().st_size > 5000


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A store, its QC table and ingest summary, as the store rule writes them."""
    cat, qc = clean(simulate_survey(2, seed=3, min_points=20, max_points=120))
    root = tmp_path_factory.mktemp("made")
    write_store(cat, root / "lc.zarr", class_names=sorted(cat.objects["label"].unique()))
    qc.to_parquet(root / "qc.parquet")
    summary = {"dataset": "t", "objects_in": len(qc), "objects_kept": int(qc["kept"].sum()),
               "observations_in": int(qc["n_input"].sum()), "observations_kept": cat.n_obs,
               "observations_dropped": {"outlier": int(qc["n_outlier"].sum())}, "objects_dropped_by_reason": {},
               "objects_per_class": cat.objects["label"].value_counts().sort_index().to_dict(), "unlabelled": 0}
    (root / "summary.json").write_text(json.dumps(summary))
    return root


def test_dataset_summary_counts_every_band_and_drop(made, tmp_path):
    root = made
    data.dataset_summary(root / "lc.zarr", root / "qc.parquet", root / "summary.json", tmp_path / "s.csv",
                         tmp_path / "s.png")
    table = pd.read_csv(tmp_path / "s.csv")
    store = LightCurveStore(root / "lc.zarr")
    per_band = table[table["what"] == "observations per band"]
    assert set(per_band["item"]) == set(store.bands) and per_band["count"].sum() == store.n_obs
    assert "outlier" in set(table.loc[table["what"] == "observations dropped", "item"])
    assert is_png(tmp_path / "s.png")


def test_summary_that_disagrees_with_the_qc_table_is_named(made, tmp_path):
    root = made
    summary = json.loads((root / "summary.json").read_text()) | {"objects_in": 1}
    (tmp_path / "bad.json").write_text(json.dumps(summary))
    with pytest.raises(InputError, match="qc.parquet"):
        data.dataset_summary(root / "lc.zarr", root / "qc.parquet", tmp_path / "bad.json", tmp_path / "s.csv",
                             tmp_path / "s.png")


def test_period_from_the_catalogue_else_a_significant_periodogram_peak():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 300, 200))
    periodic = {"time": t, "value": 15 + 0.4 * np.sin(2 * np.pi * t / 0.61) + rng.normal(0, 0.02, 200),
                "error": np.full(200, 0.02), "band": np.zeros(200, dtype=np.int8)}
    noise = periodic | {"value": 15 + rng.normal(0, 0.02, 200)}
    assert data.period_of(periodic, 3.0) == (3.0, "catalogue")
    assert data.period_of(periodic, np.nan) is None  # the catalogue says: not periodic
    period, source = data.period_of(periodic, None)
    assert source == "periodogram" and period == pytest.approx(0.61, rel=1e-3)
    assert data.period_of(noise, None) is None


def test_example_lightcurves_and_model_inputs_draw(made, params, tmp_path):  # noqa: F811
    root = made
    data.example_lightcurves(root / "lc.zarr", tmp_path / "lc.png")
    assert is_png(tmp_path / "lc.png")
    for name in ("dmdt", "image_overlay", "dtdm_cnn"):
        inputs.example_inputs(root / "lc.zarr", name, params | {"examples_per_class": 2}, tmp_path / f"{name}.png")
        assert is_png(tmp_path / f"{name}.png")


def test_per_band_dmdt_maps_show_fewer_objects_a_panel_per_band(params):  # noqa: F811
    assert inputs.panels("dmdt", params, 2) == (params["examples_per_class"] // 2, True)
    assert inputs.panels("image_overlay", params, 2) == (params["examples_per_class"], False)


def evaluation(path, model, init, n, fold, classes=("a", "b"), confusion=((3, 1), (0, 4))):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "init": init, "n_per_class": n, "fold": fold, "seed": 0,
                                "n_objects": 8, "macro_f1": 0.8, "accuracy": 0.875, "classes": list(classes),
                                "per_class_f1": {"a": 0.86, "b": 0.89}, "confusion_matrix": confusion}))
    return path


def test_classification_figures(tmp_path):
    paths = [evaluation(tmp_path / f"{m}{n}{f}.json", m, "scratch", n, f) for m in ("rnn", "cnn")
             for n in ("2", "all") for f in (0, 1)]
    classification.f1_vs_labelled(paths, tmp_path / "f1.png")
    classification.confusion_matrices(paths, tmp_path / "cm.png")
    classification.per_class_f1(paths, tmp_path / "pc.png")
    assert all(is_png(tmp_path / f) for f in ("f1.png", "cm.png", "pc.png"))
    largest = classification._largest(classification.evaluations(paths))
    assert set(largest["n_per_class"]) == {"all"} and len(largest) == 4


def test_loss_curves_and_a_file_that_is_not_a_run(tmp_path):
    steps = np.arange(1, 101)
    pd.DataFrame({"step": steps, "loss": 2 * np.exp(-steps / 30),
                  "val_loss": np.where(steps % 20 == 0, np.exp(-steps / 40), np.nan)}).to_csv(tmp_path / "a.csv")
    training.loss_curves([tmp_path / "a.csv"], ["n=20"], ["rnn"], tmp_path / "loss.png", "fine-tuning")
    assert is_png(tmp_path / "loss.png")
    (tmp_path / "b.csv").write_text("x,y\n1,2\n")
    with pytest.raises(InputError, match="b.csv"):
        training.loss_curves([tmp_path / "b.csv"], ["x"], ["rnn"], tmp_path / "bad.png", "fine-tuning")


def test_embedding_map(tmp_path):
    rng = np.random.default_rng(0)
    label = np.repeat([0, 1, -1], 20)
    values = rng.normal(size=(60, 2, 8)) + label[:, None, None] * 3
    xr.Dataset({"embedding": (("object", "layer", "feature"), values.astype(np.float32)),
                "label": ("object", label)}, attrs={"class_names": ["a", "b"], "model": "m"}).to_zarr(
        tmp_path / "e.zarr")
    embeddings.embedding_map(tmp_path / "e.zarr", tmp_path / "e.png")
    assert is_png(tmp_path / "e.png")


def uncertainty_run(root, model, method, seed, n=40, classes=("a", "b", "c")):
    """The four artifacts of one uncertainty run, made by the uncertainty stage's own evaluation from random
    sampled probabilities (one pass for the deterministic method)."""
    from astroflow.train.metrics import predictions_table
    from astroflow.uncertainty.evaluation import assess

    rng = np.random.default_rng(seed)
    passes = 1 if method == "deterministic" else 4
    label = rng.integers(0, len(classes), n)
    logits = rng.normal(size=(n, passes, len(classes))) + 2.0 * np.eye(len(classes))[label][:, None]
    samples = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    metrics, per_object, bins, curves = assess(samples, label, samples.mean(1), label, n_bins=10, points=20)
    run = root / model / method / f"s{seed}"
    run.mkdir(parents=True)
    table = predictions_table(np.arange(n).astype(str), label, samples.mean(1), list(classes))
    table.assign(**per_object).to_parquet(run / "objects.parquet")
    bins.to_csv(run / "reliability.csv", index=False)
    curves.to_csv(run / "coverage.csv", index=False)
    (run / "metrics.json").write_text(json.dumps(metrics | {"model": model, "init": "scratch", "n_per_class": 20,
                                                            "method": method, "fold": 0, "seed": seed,
                                                            "macro_f1": 0.5, "seconds": 1.0}))
    return run / "metrics.json"


def test_uncertainty_figures_a_panel_per_method_and_model(tmp_path):
    # the encoder's mc_dropout has two seeds; the rnn has one method only: its other panel is left out
    runs = [uncertainty_run(tmp_path, "astromer", m, s) for m, s in (("mc_dropout", 0), ("deterministic", 0),
                                                                       ("mc_dropout", 1))]
    runs += [uncertainty_run(tmp_path, "rnn", "deterministic", 0)]
    files = {name: [str(p).replace("metrics.json", name) for p in runs]
             for name in ("reliability.csv", "coverage.csv", "objects.parquet")}
    fig = uncertainty.reliability_diagrams(runs, files["reliability.csv"], tmp_path / "rel.png")
    assert is_png(tmp_path / "rel.png") and len(fig.axes) == 2 + 1
    fig = uncertainty.risk_coverage(runs, files["coverage.csv"], tmp_path / "rc.png")
    assert is_png(tmp_path / "rc.png")
    assert [len(ax.lines) for ax in fig.axes if ax.axison] == [2, 1]  # every method of a model on one axis
    fig = uncertainty.score_histograms(runs, files["objects.parquet"], tmp_path / "hist.png")
    assert is_png(tmp_path / "hist.png") and len(fig.axes) == 3
    groups = uncertainty.headline(uncertainty.runs(runs))
    assert groups["method"].tolist() == ["deterministic", "mc_dropout", "deterministic"]  # the package's order
    assert groups["model"].tolist() == ["astromer", "astromer", "rnn"]
    assert set(groups.loc[[0, 2], "score"]) <= {"max_p", "entropy"} and groups.loc[1, "score"] != "max_p"
    assert [len(r) for r in groups["runs"]] == [1, 2, 1]  # folds and seeds pooled


def test_uncertainty_figure_names_a_table_it_cannot_use(tmp_path):
    runs = [uncertainty_run(tmp_path, "rnn", "deterministic", 0)]
    (tmp_path / "bad.csv").write_text("coverage,risk\n1,0\n")
    with pytest.raises(InputError, match="bad.csv"):
        uncertainty.risk_coverage(runs, [tmp_path / "bad.csv"], tmp_path / "rc.png")


def spectra_evaluation(root, model, seed, redshift=True, classes=("GALAXY", "QSO", "STAR")):
    """metrics.json and redshift.csv of one spectra evaluation (empty redshift table: a model without z)."""
    rng = np.random.default_rng(seed)
    run = root / model / f"s{seed}"
    run.mkdir(parents=True)
    z = np.concatenate([rng.uniform(0, 0.7, 10), rng.uniform(0.5, 4, 10), np.zeros(10)])
    table = pd.DataFrame({"object_id": np.arange(30).astype(str), "class": np.repeat(classes, 10), "z": z,
                          "z_pred": z + rng.normal(0, 0.05, 30) * (1 + z)})
    (table if redshift else table[:0]).to_csv(run / "redshift.csv", index=False)
    scores = {"n": 30, "r2": 0.9, "nmad": 0.04, "outlier_fraction": 0.0, "success_rate": 0.1}
    (run / "metrics.json").write_text(json.dumps({
        "model": model, "seed": seed, "n_objects": 30, "redshift": scores if redshift else None,
        "class": {"classes": list(classes), "accuracy": 0.9, "confusion_matrix": [[9, 1, 0], [0, 10, 0], [1, 0, 9]]}}))
    return run / "metrics.json"


def panels(fig) -> int:
    return sum(ax.get_label() != "<colorbar>" and ax.axison for ax in fig.axes)


def test_spectra_figures_a_panel_per_model_and_only_models_with_redshift(tmp_path):
    runs = [spectra_evaluation(tmp_path, "vit", s) for s in (0, 1)] + [spectra_evaluation(tmp_path, "cnn", 0)]
    runs += [spectra_evaluation(tmp_path, "forest", 0, redshift=False)]
    fig = spectra.confusion_matrices(runs, tmp_path / "confusion.png")
    assert is_png(tmp_path / "confusion.png") and panels(fig) == 3
    fig = spectra.redshifts(runs, [p.with_name("redshift.csv") for p in runs], tmp_path / "z.png")
    assert is_png(tmp_path / "z.png") and panels(fig) == 2  # the forest predicts no redshift: no panel
    assert [ax.get_title().split(":")[0] for ax in fig.axes if ax.axison] == ["vit", "cnn"]
    with pytest.raises(ValueError, match="no model predicts redshift"):
        spectra.redshifts(runs[3:], [runs[3].with_name("redshift.csv")], tmp_path / "none.png")
    other = spectra_evaluation(tmp_path, "svm", 0, classes=("STAR", "GALAXY", "QSO"))
    with pytest.raises(InputError, match="svm"):
        spectra.confusion_matrices(runs + [other], tmp_path / "mixed.png")


def stellar_table(n, rng, **columns):
    """Posterior summaries of ``n`` stars against their truths (the stellar evaluation's columns)."""
    table = pd.DataFrame(columns)
    for name, low, high in (("log_mass", -0.5, 1.0), ("log_age", 6.0, 10.0)):
        truth = rng.uniform(low, high, n)
        mid = truth + rng.normal(0, 0.05, n)
        table = table.assign(**{f"true_{name}": truth, f"{name}_p16": mid - 0.05, f"{name}_p50": mid,
                                f"{name}_p84": mid + 0.05})
    return table


def test_stellar_figures_benchmark_rows_and_posterior_examples(tmp_path):
    rng = np.random.default_rng(0)
    stellar_table(40, rng, branch=np.repeat(["pre", "post"], 20)).to_parquet(tmp_path / "holdback.parquet")
    (tmp_path / "tables").mkdir()
    stellar_table(10, rng).to_parquet(tmp_path / "tables" / "fgk.parquet")
    fig = stellar.versus(tmp_path / "holdback.parquet", tmp_path / "versus.png", tmp_path / "tables")
    assert is_png(tmp_path / "versus.png")  # a row per table: held-back pre- and post-MS tracks, then fgk
    assert panels(fig) == 3 * 2 and [ax.get_title() for ax in fig.axes[::2]] == [
        "held-back pre-MS tracks (n = 20)", "held-back post-MS tracks (n = 20)", "fgk (n = 10)"]

    draws = pd.DataFrame({"table": np.repeat(["fgk", "onc"], 60), "star": np.tile(np.repeat([0, 1], 30), 2),
                          "log_mass": rng.normal(0, 0.02, 120), "log_age": rng.normal(9, 0.1, 120),
                          "true_log_mass": 0.0, "true_log_age": np.repeat([9.0, np.nan], 60)})
    draws.loc[90:, "log_mass"] = np.nan  # onc star 1: no draw inside a grid
    draws.to_parquet(tmp_path / "examples.parquet")
    fig = stellar.posterior_examples(tmp_path / "examples.parquet", tmp_path / "posteriors.png")
    assert is_png(tmp_path / "posteriors.png") and panels(fig) == 2  # a panel per benchmark table
    onc = next(ax for ax in fig.axes if ax.get_title().startswith("onc"))
    assert [t.get_text() for t in onc.get_legend().get_texts()] == ["star 0: 30 of 30 draws in a grid",
                                                                    "star 1: 0 of 30 draws in a grid"]
    draws[:0].to_parquet(tmp_path / "none.parquet")
    with pytest.raises(InputError, match="none.parquet"):
        stellar.posterior_examples(tmp_path / "none.parquet", tmp_path / "none.png")
