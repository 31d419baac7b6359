"""The training stages on a tiny simulated survey: split, pretrain, fine-tune, evaluate, encode, predict."""
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
import xarray as xr
from snakemake.utils import validate

from astroflow import models
from astroflow.clean import clean
from astroflow.cli import main
from astroflow.errors import ConfigError, InputError
from astroflow.features import columns, write_features
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import LightCurveStore, write_store
from astroflow.train import artifacts
from astroflow.train.encode import encode
from astroflow.train.evaluate import evaluate
from astroflow.train.finetune import FinetuneSettings, finetune
from astroflow.train.metrics import classification_metrics, predictions_table
from astroflow.train.predict import predict_store
from astroflow.train.pretrain import PretrainSettings, pretrain
from astroflow.train.split import split
from test_train import one_thread  # noqa: F401 (autouse fixture: tiny models on one thread)

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"max_steps": 6, "batch_size": 16, "warmup_steps": 2, "eval_every": 3, "checkpoint_every": 3}
SELECTION = {"split_seed": 0, "validation_fraction": 0.2}


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """A store of 6 simulated objects per class, a validated config, the test split and a pretrained encoder."""
    root = tmp_path_factory.mktemp("survey")
    cat = simulate_survey(6, seed=3, min_points=20, max_points=120)
    write_store(clean(cat)[0], root / "s.zarr", class_names=list(CLASSES))
    config = {"dataset": "sim", "results": str(root), "datasets": {"sim": {"simulate": {"n_per_class": 6}}},
              "train": {"pretrain": dict(STEPS), "finetune": {**STEPS, "head_hidden": [16]}}}
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    split(root / "s.zarr", root / "split.parquet", test_fraction=0.2, split_seed=0)
    pretrain(root / "s.zarr", root / "split.parquet", root / "pre.pt", root / "pre.csv", root / "work_pre",
             model="astromer-tiny", seed=0, settings=PretrainSettings(**STEPS), **SELECTION)
    return root, config


def finetuned(survey, init="pretrained", n="3", fold=0, model="astromer-tiny"):
    root, config = survey
    out = root / f"ft_{model}_{init}_{n}_{fold}"
    out.mkdir(exist_ok=True)
    run_finetune(config, root / "pre.pt" if init != "scratch" else None, out, model, init, n, fold)
    return out


def run_finetune(config, pretrained, out, model, init, n, fold=0, features_path=None):
    finetune(config["results"] + "/s.zarr", config["results"] + "/split.parquet", pretrained, out / "model.pt",
             out / "split.parquet", out / "metrics.csv", out / "work", model=model, init=init, n_per_class=n,
             fold=fold, seed=0, settings=FinetuneSettings(**config["train"]["finetune"]), **SELECTION,
             image=config["represent"]["image"], features_path=features_path)


def test_split_holds_out_a_fifth_of_every_class(survey):
    root, _ = survey
    split = pd.read_parquet(root / "split.parquet")
    labels = LightCurveStore(root / "s.zarr").objects["label"].to_numpy()
    assert split["object_id"].tolist() == LightCurveStore(root / "s.zarr").objects["object_id"].tolist()
    for c in np.unique(labels):
        assert (split.role[labels == c] == "test").sum() == round(0.2 * (labels == c).sum())


def test_pretraining_writes_a_loadable_encoder(survey):
    root, _ = survey
    _, meta = artifacts.load_model(root / "pre.pt")
    assert meta.kind == "encoder" and meta.bands == ["B", "R"]
    assert meta.band is None and meta.bands_apart  # a single-band model reads every band
    metrics = pd.read_csv(root / "pre.csv")
    assert metrics["step"].tolist() == list(range(1, 7)) and metrics["val_rmse"].notna().sum() == 2
    assert not (root / "work_pre").exists()  # checkpoints are kept for unfinished runs only


def test_fine_tuning_records_its_subset_and_never_uses_test_objects(survey):
    root, _ = survey
    out = finetuned(survey, "pretrained", "3", fold=1)
    used = pd.read_parquet(out / "split.parquet")
    test = pd.read_parquet(root / "split.parquet").query("role == 'test'")["object_id"]
    assert not set(used["object_id"]) & set(test)
    assert used.groupby("label").size().max() == 3
    assert set(used["role"]) == {"train", "validation"}
    again = finetuned(survey, "pretrained", "3", fold=1)
    assert pd.read_parquet(again / "split.parquet").equals(used)


def test_frozen_fine_tuning_keeps_the_pretrained_encoder(survey):
    root, _ = survey
    out = finetuned(survey, "frozen", "all")
    classifier, meta = artifacts.load_model(out / "model.pt")
    encoder, _ = artifacts.load_model(root / "pre.pt")
    assert meta.freeze_encoder and meta.init == "frozen"
    for k, v in encoder.state_dict().items():
        assert torch.equal(v, classifier.encoder.state_dict()[k])


def test_evaluate_writes_predictions_and_metrics(survey):
    root, _ = survey
    out = finetuned(survey, "scratch", "all")
    evaluate(out / "model.pt", root / "s.zarr", root / "split.parquet", out / "pred.parquet", out / "m.json")
    pred = pd.read_parquet(out / "pred.parquet")
    assert list(pred.columns) == ["object_id", "label", "pred", *[f"p_{c}" for c in CLASSES]]
    np.testing.assert_allclose(pred.filter(like="p_").sum(axis=1), 1, rtol=1e-5)
    test = pd.read_parquet(root / "split.parquet").query("role == 'test'")
    assert sorted(pred["object_id"]) == sorted(test["object_id"])
    metrics = json.loads((out / "m.json").read_text())
    assert metrics["n_objects"] == len(pred) and metrics["init"] == "scratch" and metrics["n_per_class"] == "all"
    assert np.sum(metrics["confusion_matrix"]) == len(pred)
    assert metrics["accuracy"] == pytest.approx((pred["label"] == pred["pred"]).mean())


@pytest.mark.parametrize("model", ["astromoe-tiny", "multiband-perband-tiny", "multiband-joint-tiny", "rnn", "cnn",
                                   "vit-micro-stacked", "swinv2-micro-grid"])
def test_multiband_models_and_classifiers_train_on_every_band(survey, model):
    root, _ = survey
    out = finetuned(survey, "scratch", "3", model=model)
    _, meta = artifacts.load_model(out / "model.pt")
    assert meta.band is None and meta.overrides["n_bands"] == 2
    evaluate(out / "model.pt", root / "s.zarr", root / "split.parquet", out / "p.parquet", out / "m.json")
    assert json.loads((out / "m.json").read_text())["model"] == model


def test_encode_writes_embeddings_of_every_object(survey, tmp_path):
    root, _ = survey
    encode(root / "pre.pt", root / "s.zarr", tmp_path / "emb.zarr")
    ds = xr.open_zarr(tmp_path / "emb.zarr")
    assert ds["embedding"].shape == (LightCurveStore(root / "s.zarr").n_objects, 3, 32)
    assert np.isfinite(ds["embedding"].values).all()


def test_classifiers_have_no_pretrained_encoder_to_start_from(survey):
    with pytest.raises(ConfigError, match="no pretrained encoder"):
        finetuned(survey, "pretrained", "3", model="rnn")


def test_image_models_start_from_a_local_weights_file(survey, tmp_path):
    _root, config = survey
    torch.manual_seed(1)
    donor = models.build("vit-micro", n_classes=1000)
    safetensors.torch.save_file(donor.backbone.state_dict(), tmp_path / "w.safetensors")
    out = tmp_path / "ft"
    out.mkdir()
    run_finetune(config, tmp_path / "w.safetensors", out, "vit-micro", "pretrained", "3")
    tuned, meta = artifacts.load_model(out / "model.pt")
    assert meta.init == "pretrained" and meta.image["layout"] == "overlay" and meta.image["size"] == 64
    assert tuned.backbone.head.out_features == len(CLASSES)
    with pytest.raises(ConfigError, match="image_weights"):
        run_finetune(config, None, out, "vit-micro", "pretrained", "3")
    with pytest.raises(ConfigError, match="missing.safetensors"):
        run_finetune(config, tmp_path / "missing.safetensors", out, "vit-micro", "pretrained", "3")


def test_too_few_labelled_objects_is_a_config_error(survey):
    with pytest.raises(ConfigError, match="validation"):
        finetuned(survey, "scratch", "1")


def test_bad_n_per_class_is_a_config_error(survey):
    with pytest.raises(ConfigError, match="n_per_class"):
        finetuned(survey, "scratch", "none")


@pytest.mark.parametrize("model", ["rnn", "vit-micro-grid"])
def test_predict_store_reads_a_classifier_as_it_was_trained(survey, tmp_path, model):
    root, _ = survey
    path = finetuned(survey, "scratch", "3", model=model) / "model.pt"
    predict_store(path, root / "s.zarr", tmp_path / "p.parquet")
    table = pd.read_parquet(tmp_path / "p.parquet")
    assert len(table) == LightCurveStore(root / "s.zarr").n_objects and (table["note"] == "").all()
    np.testing.assert_allclose(table.filter(like="p_").sum(axis=1), 1, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_file_that_is_not_a_model_is_named(tmp_path):
    joblib.dump({"forest": None}, tmp_path / "model.joblib")
    with pytest.raises(InputError, match="model.joblib.*not an astroflow PyTorch model"):
        artifacts.load_model(tmp_path / "model.joblib")


def test_predict_store_and_cli_agree(survey, tmp_path):
    root, _ = survey
    model = finetuned(survey, "pretrained", "all") / "model.pt"
    predict_store(model, root / "s.zarr", tmp_path / "store.parquet")
    from_store = pd.read_parquet(tmp_path / "store.parquet")
    assert len(from_store) == LightCurveStore(root / "s.zarr").n_objects
    assert (from_store["note"] == "").mean() > 0.8  # a model reading every band alone reads them
    assert from_store["note"].isin(["", "no observations in the model's bands"]).all()
    from_store = from_store[from_store["note"] == ""]

    # The same light curves as a user's raw long table, plus an object too short to keep and one in band V only.
    cat = simulate_survey(6, seed=3, min_points=20, max_points=120)
    obs = cat.obs.assign(label=cat.obs["object_id"].map(cat.objects.set_index("object_id")["label"]))
    extra = pd.DataFrame({"object_id": ["short"] * 2 + ["v-only"] * 10, "time": np.arange(12.0) + 50000,
                          "band": ["R"] * 2 + ["V"] * 10, "value": 15.0, "error": 0.1, "label": None})
    pd.concat([obs, extra]).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.csv"
    options = '{"columns": {"label": "label"}}'
    assert main(["predict", str(model), "long", str(tmp_path / "new.csv"), "--out", str(out), "--options",
                 options]) == 0
    table = pd.read_csv(out).set_index("object_id")
    assert table.loc["short", "note"].startswith("cleaned away")
    assert table.loc["v-only", "note"] == "no observations in the model's bands" and np.isnan(table.loc["v-only", "p_RRab"])
    shared = from_store.set_index("object_id").index
    np.testing.assert_allclose(table.loc[shared, "p_RRab"], from_store.set_index("object_id")["p_RRab"], atol=1e-5)
    assert (table.loc[shared, "label"] == from_store.set_index("object_id")["label"]).all()


def test_predict_cli_names_a_missing_file(tmp_path, capsys, survey):
    root, _ = survey
    assert main(["predict", str(root / "pre.pt"), "long", str(tmp_path / "nothing.csv")]) == 1
    assert "nothing.csv" in capsys.readouterr().err


def test_hybrid_reads_the_light_curve_features_in_its_head(survey, tmp_path):
    root, config = survey
    write_features(root / "s.zarr", tmp_path / "features.parquet", threads=1)
    run_finetune(config, None, tmp_path, "hybrid", "scratch", "3", features_path=tmp_path / "features.parquet")
    model, card = artifacts.load_model(tmp_path / "model.pt")
    assert card.feature_norm["columns"] == columns(["B", "R"])
    assert model.head.mlp[0].in_features == model.encoder.config.dim + len(columns(["B", "R"]))
    evaluate(tmp_path / "model.pt", root / "s.zarr", root / "split.parquet", tmp_path / "p.parquet",
             tmp_path / "m.json", features_path=tmp_path / "features.parquet")
    scored = pd.read_parquet(tmp_path / "p.parquet").set_index("object_id")
    # predict on a catalogue extracts the features itself and standardises them as in training
    predict_store(tmp_path / "model.pt", root / "s.zarr", tmp_path / "all.parquet")
    again = pd.read_parquet(tmp_path / "all.parquet").set_index("object_id").loc[scored.index]
    probs = [c for c in scored if c.startswith("p_")]
    np.testing.assert_allclose(again[probs].to_numpy(), scored[probs].to_numpy(), atol=1e-5)


def test_metrics_match_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.6, label, rng.integers(0, 4, 200))
    names = ["a", "b", "c", "d"]  # class d has no true object: left out of the macro average
    m = classification_metrics(label, pred, names)
    assert m["macro_f1"] == pytest.approx(f1_score(label, pred, labels=[0, 1, 2], average="macro"))
    assert m["per_class_f1"]["b"] == pytest.approx(f1_score(label == 1, pred == 1))
    assert set(m["per_class_f1"]) == {"a", "b", "c"}
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (4, 4) and cm[1, 2] == np.sum((label == 1) & (pred == 2))
    assert m["accuracy"] == pytest.approx(np.mean(label == pred))


def test_predictions_table_names_classes():
    probs = np.array([[0.7, 0.3], [0.2, 0.8]])
    table = predictions_table(np.array(["x", "y"]), np.array([1, -1]), probs, ["a", "b"])
    assert table["label"].tolist() == ["b", pd.NA] or table["label"].isna().tolist() == [False, True]
    assert table["pred"].tolist() == ["a", "b"] and table["p_b"].tolist() == pytest.approx([0.3, 0.8])


def test_predict_reports_nan_probabilities_as_not_classified(survey, tmp_path):
    root, _ = survey
    path = finetuned(survey, "scratch", "3", model="rnn") / "model.pt"
    model, meta = artifacts.load_model(path)
    with torch.no_grad():
        next(iter(model.parameters())).fill_(float("nan"))
    artifacts.save_model(tmp_path / "nan.pt", model, meta)
    predict_store(tmp_path / "nan.pt", root / "s.zarr", tmp_path / "p.parquet")
    table = pd.read_parquet(tmp_path / "p.parquet")
    assert table["note"].str.contains("not finite").all()
    assert table["pred"].isna().all() and table.filter(like="p_").isna().all().all()


def new_catalogue(path, extra=None):
    """Light curves a model has not seen, as a user's long table without labels (and ``extra`` rows)."""
    obs = simulate_survey(2, seed=4, min_points=20, max_points=80).obs
    pd.concat([obs, extra]).to_csv(path, index=False)


def test_predict_writes_the_format_its_suffix_names_and_no_empty_column(survey, tmp_path, capsys):
    model = str(finetuned(survey, "scratch", "3", model="rnn") / "model.pt")
    new_catalogue(tmp_path / "new.csv")
    assert main(["predict", model, "long", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.CSV")]) == 0
    assert (tmp_path / "p.CSV").read_text().startswith("object_id,pred,p_RRab,")  # CSV, whatever the case
    table = pd.read_csv(tmp_path / "p.CSV")
    assert list(table.columns) == ["object_id", "pred", *(f"p_{c}" for c in CLASSES)]  # no labels, no notes
    capsys.readouterr()
    assert main(["predict", model, "long", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.txt")]) == 1
    assert "'--out'" in capsys.readouterr().err and not (tmp_path / "p.txt").exists()
    # an object the model cannot read brings the note column; its row has neither prediction nor probabilities
    v_only = pd.DataFrame({"object_id": "v-only", "time": np.arange(10.0) + 5e4, "band": "V", "value": 15.0,
                           "error": 0.1})
    new_catalogue(tmp_path / "new.csv", v_only)
    assert main(["predict", model, "long", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv", keep_default_na=False).set_index("object_id")
    assert "label" not in table and table.loc["v-only", "note"].startswith("no observations")
    assert table.loc["v-only", "p_RRab"] == "" and (table.drop(index="v-only")["note"] == "").all()
    # a model trained on simulated data names no format to fall back on
    assert main(["predict", model, str(tmp_path / "new.csv")]) == 1
    assert "give one" in capsys.readouterr().err


def test_a_model_reads_new_files_with_its_training_reader_options(tmp_path):
    """A user's own catalogue, columns named their way: the model trained on it predicts on a new file of that
    survey with no format or options given; given options override the remembered ones key by key."""
    from astroflow.datasets import resolve
    from astroflow.ingest import ingest_shard
    from astroflow.store import build_store

    mapping = {"object_id": "oid", "time": "hjd", "band": "filter", "value": "mag", "error": "magerr"}
    cat = simulate_survey(6, seed=3, min_points=20, max_points=120)
    labels = cat.objects.set_index("object_id")["label"]
    obs = cat.obs.assign(type=cat.obs["object_id"].map(labels)).rename(columns=mapping)
    obs.to_csv(tmp_path / "mine.csv", index=False)
    options = {"columns": {**mapping, "label": "type"}, "time_format": "mjd"}
    config = {"results": str(tmp_path), "datasets": {"mine": {"path": str(tmp_path / "mine.csv"), "format": "long",
                                                              "options": options}}}
    spec = resolve("mine", config, tmp_path)
    ingest_shard(spec, 0, tmp_path / "0.zarr", tmp_path / "0.qc.parquet")
    build_store("mine", [tmp_path / "0.zarr"], [tmp_path / "0.qc.parquet"], tmp_path / "s.zarr",
                tmp_path / "qc.parquet", tmp_path / "summary.json")
    split(tmp_path / "s.zarr", tmp_path / "split.parquet", test_fraction=0.2, split_seed=0)
    finetune(tmp_path / "s.zarr", tmp_path / "split.parquet", None, tmp_path / "model.pt", tmp_path / "fs.parquet",
             tmp_path / "m.csv", tmp_path / "work", model="rnn", init="scratch", n_per_class="3", fold=0, seed=0,
             settings=FinetuneSettings(**STEPS), **SELECTION)
    _, card = artifacts.load_model(tmp_path / "model.pt")
    assert card.reader == {"format": "long", "options": options}

    new = simulate_survey(2, seed=4, min_points=20, max_points=80)
    new.obs.assign(type="x").rename(columns=mapping).to_csv(tmp_path / "new.csv", index=False)
    model = str(tmp_path / "model.pt")
    assert main(["predict", model, str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.parquet")]) == 0
    table = pd.read_parquet(tmp_path / "p.parquet")  # Parquet, as the suffix says
    assert len(table) == new.n_objects and "label" not in table  # the label column is not assumed
    assert main(["predict", model, "long", str(tmp_path / "new.csv"), "--out", str(tmp_path / "l.csv"),
                 "--options", '{"columns": {"label": "type"}}']) == 0
    labelled = pd.read_csv(tmp_path / "l.csv")
    assert (labelled["label"] == "x").all()
    np.testing.assert_allclose(labelled.filter(like="p_"), table.filter(like="p_"), atol=1e-6)


def test_given_reader_options_override_the_models_key_by_key():
    from astroflow.train.predict import reader_for

    reader = {"format": "long", "options": {"columns": {"object_id": "oid", "label": "type"}, "time_format": "hjd"}}
    given = {"columns": {"value": "flux"}, "time_format": "jd"}
    assert reader_for("m.pt", None, given, reader) == ("long", {"columns": {"object_id": "oid", "value": "flux"},
                                                                "time_format": "jd"})
    assert reader_for("m.pt", "antares", {"pattern": "*.csv"}, reader) == ("antares", {"pattern": "*.csv"})
    with pytest.raises(ConfigError, match="simulated data"):
        reader_for("m.pt", None, {}, {})
