"""The random forest baseline on a simulated survey: features, training on the deep models' subset,
evaluation in the deep models' format, reproducibility."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from imblearn.ensemble import BalancedRandomForestClassifier
from sklearn.ensemble import RandomForestClassifier

from astroflow.clean import clean
from astroflow.errors import ConfigError, InputError
from astroflow.features import columns, read_features, write_features
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import LightCurveStore, write_store
from astroflow.train.forest import ForestSettings, evaluate_forest, load_forest, train_forest
from astroflow.train.metrics import RUN_KEYS, classification_metrics, predictions_table
from astroflow.train.split import labelled_objects, labelled_subset, split

SELECTION = {"split_seed": 7, "validation_fraction": 0.2}
SETTINGS = ForestSettings(n_estimators=100, min_samples_leaf=1)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """A store of 30 simulated objects per class, its test split and feature table."""
    root = tmp_path_factory.mktemp("forest")
    cat, _ = clean(simulate_survey(30, seed=11, min_points=30, max_points=150))
    write_store(cat, root / "s.zarr", class_names=list(CLASSES))
    split(root / "s.zarr", root / "split.parquet", test_fraction=0.2, split_seed=7)
    write_features(root / "s.zarr", root / "features.parquet", threads=2)
    return root


def trained(root, n="all", fold=0, seed=0, name="run"):
    out = root / name
    out.mkdir(exist_ok=True)
    train_forest(root / "features.parquet", root / "split.parquet", out / "model.skops", out / "split.parquet",
                 n_per_class=n, fold=fold, seed=seed, settings=SETTINGS, **SELECTION, threads=2)
    evaluate_forest(out / "model.skops", root / "features.parquet", root / "split.parquet", root / "s.zarr",
                    out / "predictions.parquet", out / "metrics.json", threads=2)
    return out


def test_feature_table_lists_every_object_with_its_provenance(survey):
    table, meta = read_features(survey / "features.parquet")
    store = LightCurveStore(survey / "s.zarr")
    assert table["object_id"].tolist() == store.objects["object_id"].tolist()
    assert list(table.columns) == ["object_id", *columns(store.bands)]
    assert meta["class_names"] == list(CLASSES) and meta["quantity"] == "mag" and meta["bands"] == ["B", "R"]
    assert str(survey / "s.zarr") in meta["provenance"]["inputs"]


def test_forest_beats_chance_in_the_evaluation_format(survey):
    out = trained(survey)
    pred = pd.read_parquet(out / "predictions.parquet")
    test = pd.read_parquet(survey / "split.parquet").query("role == 'test'")
    assert sorted(pred["object_id"]) == sorted(test["object_id"])
    reference = predictions_table(np.array(["a"]), np.array([0]), np.eye(len(CLASSES))[:1], list(CLASSES))
    assert list(pred.columns) == list(reference.columns) and (pred.dtypes == reference.dtypes).all()
    np.testing.assert_allclose(pred.filter(like="p_").sum(axis=1), 1, rtol=1e-5)
    metrics = json.loads((out / "metrics.json").read_text())
    keys = [*RUN_KEYS, *classification_metrics(np.array([0]), np.array([0]), list(CLASSES))]
    assert list(metrics) == keys
    assert (metrics["model"], metrics["init"], metrics["n_per_class"], metrics["fold"], metrics["seed"]) == (
        "forest", "scratch", "all", 0, 0)
    assert metrics["n_objects"] == len(pred) and metrics["accuracy"] == pytest.approx((pred.label == pred.pred).mean())
    assert metrics["macro_f1"] > 0.5  # chance is 1/11
    assert metrics["train_seconds"] > 0  # the comparison table's training time


def test_forest_learns_from_the_deep_models_subset_and_is_reproducible(survey):
    first = trained(survey, "5", fold=1, seed=3, name="a")
    again = trained(survey, "5", fold=1, seed=3, name="b")
    table = pd.read_parquet(survey / "split.parquet")
    labels = table["label"].to_numpy()
    chosen = labelled_subset(labels, np.flatnonzero(table["role"] == "pool"), 5, 7, 1)
    _, held = labelled_objects(labels, np.flatnonzero(table["role"] == "pool"), "5", 1, **SELECTION)
    used = pd.read_parquet(first / "split.parquet")
    assert used["object_id"].tolist() == table["object_id"][chosen].tolist()
    assert held.sum() == 22 and (used["role"] == "train").all()  # the deep models' validation objects too
    assert used.groupby("label").size().eq(5).all()
    assert pd.read_parquet(first / "predictions.parquet").equals(pd.read_parquet(again / "predictions.parquet"))
    other = trained(survey, "5", fold=1, seed=4, name="c")
    assert not pd.read_parquet(first / "predictions.parquet").equals(pd.read_parquet(other / "predictions.parquet"))


def test_model_records_columns_and_imputation(survey):
    out = trained(survey, "10", name="d")
    model, meta = load_forest(out / "model.skops")
    assert meta["columns"] == columns(["B", "R"]) == list(meta["imputed"]) and meta["fill"] == -999.0
    assert model.n_estimators == 100 and isinstance(model, RandomForestClassifier)
    assert meta["settings"] == {"kind": "random", **SETTINGS.forest()} and SETTINGS.forest()["class_weight"] == (
        "balanced_subsample")
    assert meta["imputed"]["n_points_B"] == 0


def test_features_of_other_objects_are_refused(survey, tmp_path):
    table = pd.read_parquet(survey / "features.parquet").iloc[::-1]
    table.to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(InputError, match="feature table"):
        train_forest(tmp_path / "plain.parquet", survey / "split.parquet", tmp_path / "m.skops", tmp_path / "s.parquet",
                     n_per_class="all", fold=0, seed=0, settings=SETTINGS, **SELECTION)
    split = pd.read_parquet(survey / "split.parquet").iloc[::-1]
    split.to_parquet(tmp_path / "split.parquet")
    with pytest.raises(ConfigError, match="rebuild"):
        train_forest(survey / "features.parquet", tmp_path / "split.parquet", tmp_path / "m.skops",
                     tmp_path / "s.parquet", n_per_class="all", fold=0, seed=0, settings=SETTINGS, **SELECTION)


def test_balanced_forest_is_an_option_and_a_bad_kind_names_its_key(survey, tmp_path):
    settings = ForestSettings(n_estimators=20, kind="balanced")
    args = (survey / "features.parquet", survey / "split.parquet", tmp_path / "m.joblib", tmp_path / "s.parquet")
    train_forest(*args, n_per_class="10", fold=0, seed=0, settings=settings, **SELECTION)
    model, meta = load_forest(tmp_path / "m.joblib")
    assert isinstance(model, BalancedRandomForestClassifier) and "class_weight" not in meta["settings"]
    with pytest.raises(ConfigError, match="train.forest.kind"):
        train_forest(*args, n_per_class="10", fold=0, seed=0, settings=ForestSettings(kind="extra"), **SELECTION)


def test_the_forest_and_object_selection_import_no_torch():
    code = "import sys, astroflow.train.forest, astroflow.train.split, astroflow.features; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
def test_astroflow_predict_serves_the_forest(survey, tmp_path):
    from astroflow.cli import main

    out = trained(survey, name="served")
    cat = simulate_survey(30, seed=11, min_points=30, max_points=150)
    obs = cat.obs.assign(label=cat.obs["object_id"].map(cat.objects.set_index("object_id")["label"]))
    obs.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(out / "model.skops"), "long", str(tmp_path / "new.csv"), "--out",
                 str(tmp_path / "p.parquet"), "--options", '{"columns": {"label": "label"}}']) == 0
    served = pd.read_parquet(tmp_path / "p.parquet").set_index("object_id")
    scored = pd.read_parquet(out / "predictions.parquet").set_index("object_id")
    assert "note" not in served  # every object classified
    np.testing.assert_allclose(served.loc[scored.index].filter(like="p_"), scored.filter(like="p_"), atol=1e-6)


def test_astroflow_predict_writes_no_column_for_a_class_the_forest_never_saw(survey, tmp_path):
    from astroflow.cli import main

    split = pd.read_parquet(survey / "split.parquet")
    split.loc[split["label"] == CLASSES.index("QSO"), "label"] = -1  # no QSO learnt from
    split.to_parquet(tmp_path / "split.parquet")
    train_forest(survey / "features.parquet", tmp_path / "split.parquet", tmp_path / "model.skops",
                 tmp_path / "s.parquet", n_per_class="5", fold=0, seed=0, settings=ForestSettings(n_estimators=10),
                 **SELECTION, threads=1)
    simulate_survey(1, seed=12, min_points=30, max_points=60).obs.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(tmp_path / "model.skops"), "long", str(tmp_path / "new.csv"), "--out",
                 str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv")
    probs = table.filter(like="p_")
    assert list(probs.columns) == [f"p_{c}" for c in CLASSES if c != "QSO"] and "label" not in table
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)


def test_a_forest_file_holding_code_is_refused_unloaded(tmp_path):
    import os

    import skops.io

    skops.io.dump({"forest": os.system, "meta": {}}, tmp_path / "model.skops")
    with pytest.raises(InputError, match="model.skops: refused.*system"):
        load_forest(tmp_path / "model.skops")
    (tmp_path / "pickled.skops").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(InputError, match="not a forest model file"):
        load_forest(tmp_path / "pickled.skops")
