"""Uncertainty: score formulas, their evaluation, MC Dropout and hierarchical stochastic attention sampling, the
uncertainty stage and predict --uncertainty."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from astroflow import models
from astroflow.clean import clean
from astroflow.cli import main
from astroflow.errors import ConfigError, InputError
from astroflow.models.heads import Classifier, MeanPoolHead
from astroflow.models.layers import key_mask
from astroflow.models.stochastic_attention import StochasticAttention, stochastic_keys, stochastic_weights
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import LightCurveStore, to_ragged
from astroflow.train import artifacts
from astroflow.train.data import Windows
from astroflow.train.finetune import FinetuneSettings, finetune
from astroflow.uncertainty import evaluation, sampling
from astroflow.uncertainty.scores import bald, entropy, probability_variance, sampled_maximum_probability, scores
from astroflow.uncertainty.summary import write_summary
from astroflow.uncertainty.uncertainty import UncertaintySettings, uncertainty
from test_train import one_thread  # noqa: F401 (autouse fixture: tiny models on one thread)
from test_train_stages import SELECTION, survey  # noqa: F401 (fixture: a tiny simulated store and its split)

C = 4


def agreeing(n=5, t=7, seed=0):
    """(n, t, C) samples whose passes all give the same (random) probability vector."""
    p = np.random.default_rng(seed).dirichlet(np.ones(C), size=n)
    return np.repeat(p[:, None], t, axis=1)


def test_bald_and_pv_are_zero_when_all_passes_agree():
    p = agreeing()
    assert np.allclose(bald(p), 0) and np.allclose(probability_variance(p), 0)
    spread = p.copy()
    spread[:, 0], spread[:, 1] = np.eye(C)[0], np.eye(C)[1]
    assert (bald(spread) > 0.1).all() and (probability_variance(spread) > 0.1).all()


def test_entropy_of_a_uniform_prediction_is_log_c():
    assert entropy(np.full((3, C), 1 / C)) == pytest.approx(np.full(3, np.log(C)))
    assert entropy(np.eye(C)) == pytest.approx(np.zeros(C))  # 0 log 0 = 0


def test_smp_of_a_one_hot_mean_is_zero_and_grows_with_disagreement():
    p = np.repeat(np.eye(C)[None, None, 2], 5, axis=1)
    assert sampled_maximum_probability(p) == pytest.approx([0.0])
    mixed = np.stack([np.eye(C)[0], np.eye(C)[1]])[None]
    assert sampled_maximum_probability(mixed) == pytest.approx([0.5])


def test_one_pass_gives_the_deterministic_scores():
    p = agreeing(t=1)
    got = scores(p)
    assert set(got) == {"max_p", "entropy"}
    assert got["max_p"] == pytest.approx(1 - p[:, 0].max(axis=1))
    assert set(scores(agreeing(t=3))) == {"smp", "pv", "bald", "entropy"}


@pytest.mark.parametrize("bad", [np.full((2, 3), 0.5), np.full((2, 3, 2), 0.7), np.full((2, 3, 1), 1.0)])
def test_samples_that_are_not_probabilities_are_refused(bad):
    with pytest.raises(ValueError, match="probabilit"):
        scores(bad)


def test_misclassification_auroc_and_wilcoxon_test():
    wrong = np.array([0, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    perfect = evaluation.misclassification(wrong + 0.1 * np.arange(8), wrong)
    assert perfect["auroc"] == 1.0 and perfect["mwu_p"] < 0.05 and perfect["mwu_u"] == 3 * 5
    reversed_ = evaluation.misclassification(-wrong.astype(float), wrong)
    assert reversed_["auroc"] == 0.0 and reversed_["mwu_p"] > 0.9
    assert evaluation.misclassification(np.arange(3.0), np.zeros(3, bool))["auroc"] is None  # nothing wrong


def test_calibration_of_hand_built_predictions():
    label = np.array([0, 0, 1, 1])
    sure = np.eye(2)[label]
    assert evaluation.calibration(sure, label) == pytest.approx({"ece": 0.0, "ece_floor": 0.0, "nll": 0.0,
                                                                 "brier": 0.0}, abs=1e-9)
    half = np.full((4, 2), 0.5)
    got = evaluation.calibration(half, label)
    assert got["nll"] == pytest.approx(np.log(2)) and got["brier"] == pytest.approx(0.5)
    assert got["ece"] == pytest.approx(0.0)  # confidence 0.5, accuracy 0.5 (argmax picks class 0)
    overconfident = np.tile([0.9, 0.1], (4, 1))
    assert evaluation.calibration(overconfident, label)["ece"] == pytest.approx(0.4)
    bins = evaluation.reliability(overconfident, label, 10)
    assert bins["count"].sum() == 4 and bins.loc[bins["count"] > 0, "accuracy"].tolist() == [0.5]


def test_ece_floor_is_the_ece_of_perfectly_calibrated_outcomes_and_shrinks_with_more_objects():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, 439)
    probs = np.stack([confidence, 1 - confidence], axis=1)  # max p is the confidence (>= 0.5) or 1 - it
    floor = evaluation.ece_floor(probs, 15)
    # outcomes drawn with exactly the predicted probability: the measured ECE scatters around the floor, never 0
    top = probs.max(axis=1)
    measured = [evaluation.calibration(probs, np.where(rng.random(439) < top, probs.argmax(1), 1 - probs.argmax(1)))
                ["ece"] for _ in range(200)]
    assert 0.03 < floor < 0.08 and np.mean(measured) == pytest.approx(floor, rel=0.1)
    assert evaluation.ece_floor(np.tile(probs, (10, 1)), 15) < floor / 2  # sampling noise: about 1/sqrt(N)
    assert evaluation.ece_floor(probs, 15) == floor  # seeded


def test_temperature_scaling_softens_overconfident_predictions():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, 2000)
    pred = np.where(rng.random(2000) < 0.7, label, (label + 1) % 3)  # right 70% of the time
    probs = np.full((2000, 3), 0.01)
    probs[np.arange(2000), pred] = 0.98  # but 98% sure
    temperature = evaluation.fit_temperature(probs, label)
    assert temperature > 1
    scaled = evaluation.with_temperature(probs, temperature)
    assert evaluation.calibration(scaled, label)["ece"] < 0.05 < evaluation.calibration(probs, label)["ece"]
    assert (scaled.argmax(axis=1) == pred).all()


def test_vector_scaling_calibrates_a_model_sure_of_one_class_and_unsure_of_another():
    """One class always right but predicted at 0.6, another right half the time at 0.9: no single temperature fixes
    both, a scale per class does (fitted on one half, scored on the other)."""
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 4000)
    pred = np.where((label == 0) | (rng.random(4000) < 0.5), label, 2)
    probs = np.full((4000, 3), 0.2)
    probs[np.arange(4000), pred] = np.where(pred == 0, 0.6, 0.9)
    probs /= probs.sum(axis=1, keepdims=True)
    fit, test = slice(0, 2000), slice(2000, None)
    temperature = evaluation.fit_temperature(probs[fit], label[fit])
    scale, bias = evaluation.fit_vector_scaling(probs[fit], label[fit], temperature)
    assert scale.shape == bias.shape == (3,)
    by_temperature = evaluation.calibration(evaluation.with_temperature(probs[test], temperature), label[test])
    by_vector = evaluation.calibration(evaluation.with_scaling(probs[test], scale, bias), label[test])
    assert by_vector["nll"] < by_temperature["nll"] and by_vector["ece"] < 0.05 < by_temperature["ece"]
    samples = probs[:, None]
    metrics = evaluation.assess(samples[test], label[test], probs[fit], label[fit], scaling="vector")[0]
    assert metrics["scaling"]["method"] == "vector" and metrics["calibrated"]["ece"] == pytest.approx(by_vector["ece"])
    assert evaluation.assess(samples[test], label[test], probs[fit], label[fit])[0]["scaling"]["scale"] == [
        pytest.approx(1 / temperature)]
    with pytest.raises(ValueError, match="unknown calibration 'platt'"):
        evaluation.assess(samples[test], label[test], probs[fit], label[fit], scaling="platt")


def test_risk_coverage_keeps_the_least_uncertain_first():
    correct = np.array([1, 1, 1, 0, 0], dtype=bool)
    curve, area = evaluation.risk_coverage(np.array([0.1, 0.2, 0.3, 0.8, 0.9]), correct, points=5)
    assert curve["coverage"].tolist() == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert curve["accuracy"].tolist() == pytest.approx([1, 1, 1, 0.75, 0.6])
    assert area["aurc"] == pytest.approx(1 - np.mean([1, 1, 1, 0.75, 0.6]))
    _, worst = evaluation.risk_coverage(-np.array([0.1, 0.2, 0.3, 0.8, 0.9]), correct, points=5)
    assert worst["aurc"] > area["aurc"]


def test_bootstrap_auroc_is_roc_auc_of_each_resample():
    rng = np.random.default_rng(0)
    score, wrong = rng.random(60).round(1), rng.random(60) < 0.3  # rounded: ties count half
    index = rng.integers(0, 60, (5, 60))
    got = evaluation.bootstrap_auroc(score, wrong, index)
    assert got == pytest.approx([evaluation.auroc(score[i], wrong[i]) for i in index])
    assert np.isnan(evaluation.bootstrap_auroc(score, np.zeros(60, bool), index)).all()


def test_paired_difference_is_zero_for_the_same_score_and_sure_for_a_far_better_one():
    rng = np.random.default_rng(1)
    wrong = rng.random(400) < 0.3
    noisy = wrong + rng.normal(0, 1.0, 400)
    assert evaluation.paired_difference(noisy, wrong, noisy, wrong) == (0.0, 0.0, 0.0)
    diff, low, high = evaluation.paired_difference(wrong + rng.normal(0, 0.3, 400), wrong, noisy, wrong)
    assert 0 < low < diff < high
    # a slightly different score: the paired interval is narrower than either ROC-AUC's own spread would allow
    close = noisy + rng.normal(0, 0.1, 400)
    diff, low, high = evaluation.paired_difference(close, wrong, noisy, wrong)
    alone = evaluation.bootstrap_auroc(noisy, wrong, np.random.default_rng(0).integers(0, 400, (1000, 400)))
    assert low < diff < high and high - low < 0.03 < np.subtract(*np.percentile(alone, [97.5, 2.5]))
    assert np.isnan(evaluation.paired_difference(noisy, np.zeros(400, bool), noisy, wrong)).all()


def write_run(directory, method, seed, objects, scores_):
    """metrics.json and objects.parquet of an uncertainty run, as the rule writes them, from hand-built scores."""
    directory.mkdir(parents=True)
    wrong = objects["pred"] != objects["label"]
    table = objects.assign(**scores_)
    table.to_parquet(directory / "objects.parquet", index=False)
    metrics = {"model": "m", "init": "scratch", "n_per_class": "all", "method": method, "fold": 0, "seed": seed,
               "macro_f1": 0.5, "calibration": {"ece": 0.1}, "calibrated": {"ece": 0.05, "ece_floor": 0.03},
               "seconds": 1.0, "ood": None, "held_out_classes": [],
               "misclassification": {k: {"auroc": evaluation.auroc(v, wrong)} for k, v in scores_.items()},
               "risk_coverage": {k: {"aurc": 0.2} for k in scores_}}
    (directory / "metrics.json").write_text(json.dumps(metrics))
    return directory


def test_summary_compares_every_score_with_the_deterministic_run_beside_it(tmp_path):
    rng = np.random.default_rng(2)
    objects = pd.DataFrame({"object_id": [f"o{i}" for i in range(300)], "label": rng.choice(["A", "B"], 300),
                            "p_A": 0.5, "p_B": 0.5})
    runs = []
    for seed in (0, 1):
        det = objects.assign(pred=np.where(rng.random(300) < 0.3, "X", objects["label"]))  # X: always wrong
        wrong = (det["pred"] != det["label"]).to_numpy()
        runs.append(write_run(tmp_path / f"s{seed}" / "deterministic", "deterministic", seed, det,
                              {"max_p": wrong + rng.normal(0, 1, 300)}))
        # the stochastic run beside it: the same predictions, a better score, its objects in another order, and the
        # seed of its first model (as an ensemble's, whose s<k> joins seeds k*M ..)
        runs.append(write_run(tmp_path / f"s{seed}" / "mc_dropout", "mc_dropout", 3 * seed, det[::-1],
                              {"smp": (wrong + rng.normal(0, 0.3, 300))[::-1]}))
    metrics, objects_ = [r / "metrics.json" for r in runs], [r / "objects.parquet" for r in runs]
    table = write_summary(metrics, tmp_path / "u.csv", tmp_path / "u.md", objects_).set_index(["method", "score"])
    mc = [json.loads(p.read_text())["misclassification"]["smp"]["auroc"] for p in metrics[1::2]]
    det = [json.loads(p.read_text())["misclassification"]["max_p"]["auroc"] for p in metrics[::2]]
    diffs = np.subtract(mc, det)
    assert table.loc[("mc_dropout", "smp"), "vs_max_p_mean"] == pytest.approx(diffs.mean())
    assert table.loc[("mc_dropout", "smp"), "vs_max_p_worst"] == pytest.approx(diffs.min())
    assert table.loc[("mc_dropout", "smp"), "vs_max_p_above"] == 2
    assert table.loc[("deterministic", "max_p"), "vs_max_p_mean"] == 0
    assert "| 2 of 2 |" in (tmp_path / "u.md").read_text()
    without = write_summary(metrics, tmp_path / "a.csv", tmp_path / "a.md")  # no objects tables: no comparison
    assert without["vs_max_p_mean"].isna().all() and without["vs_max_p_above"].isna().all()
    pd.read_parquet(objects_[1]).iloc[1:].to_parquet(objects_[1])
    with pytest.raises(InputError, match="other test objects"):
        write_summary(metrics, tmp_path / "b.csv", tmp_path / "b.md", objects_)


def test_assess_reports_out_of_distribution_objects_apart():
    rng = np.random.default_rng(1)
    label = rng.integers(0, C, 60)
    known = label < 3  # class 3 held out of training: the model spreads its probability over the others
    samples = np.where(known[:, None, None], np.eye(C)[label][:, None] * 0.9 + 0.025,
                       rng.dirichlet(np.ones(C), size=(60, 5)))
    samples = np.broadcast_to(samples, (60, 5, C)) if samples.shape[1] == 1 else samples
    metrics, per_object, bins, curves = evaluation.assess(samples, label, np.eye(C)[label[:20]] * 0.9 + 0.025,
                                                          label[:20], known=known)
    assert metrics["n_objects"] == known.sum() and metrics["n_ood"] == (~known).sum()
    assert metrics["ood"]["entropy"] > 0.9 and metrics["ood"]["pv"] > 0.9
    assert set(curves["score"]) == set(per_object) == {"smp", "pv", "bald", "entropy"}
    assert set(bins["output"]) == {"raw", "calibrated"}


# --- sampling ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def windows():
    cat = simulate_survey(2, seed=5, min_points=20, max_points=80)
    ragged = to_ragged(clean(cat)[0])
    return Windows(ragged, np.arange(len(ragged)), 64, 0)


def classifier(name="astromer-tiny", dropout=0.1, seed=0):
    torch.manual_seed(seed)
    encoder = models.build(name, dropout=dropout, phase_harmonics=0)  # no periods in these batches
    return Classifier(encoder, MeanPoolHead(encoder.config.dim, 3, (16,))).eval()


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_mc_passes_differ_only_when_dropout_is_positive(windows, dropout):
    model = classifier(dropout=dropout)
    torch.manual_seed(1)
    p = sampling.method_samples("mc_dropout", [model], windows, passes=4)
    assert p.shape == (len(windows.index), 4, 3) and np.allclose(p.sum(axis=-1), 1, atol=1e-5)
    spread = p.std(axis=1).max()
    assert (spread > 1e-4) if dropout else (spread < 1e-6)
    assert not model.training and not any(m.training for m in model.modules())  # back in eval mode
    det = sampling.method_samples("deterministic", [model], windows, passes=4)
    assert det.shape[1] == 1 and np.allclose(det[:, 0], sampling.method_samples("deterministic", [model], windows,
                                                                                 passes=1)[:, 0])


def test_batched_passes_equal_passes_run_one_by_one(windows):
    """The T-expanded forward and a forward per pass draw the same distribution: with dropout off (hsa on a
    model without dropout is not allowed, so compare the repeated deterministic passes) they are identical."""
    model = classifier(dropout=0.0)
    batch = {k: torch.from_numpy(v) for k, v in windows.all(np.arange(3)).items()}
    together = sampling.repeated_passes(model, batch, 5, max_rows=10_000)
    one_by_one = sampling.repeated_passes(model, batch, 5, max_rows=1)
    assert together.shape == one_by_one.shape == (len(batch["mask"]), 5, 3)
    assert torch.allclose(together, one_by_one, atol=1e-5)


def test_seeded_sampling_repeats(windows):
    model = classifier("astromer-tiny-hsa")
    draws = []
    for _ in range(2):
        torch.manual_seed(3)
        draws.append(sampling.method_samples("ha_mc_dropout", [model], windows, passes=3))
    assert np.array_equal(*draws)


def test_methods_match_the_attention_the_model_was_trained_with(windows):
    with pytest.raises(ConfigError, match="stochastic attention"):
        sampling.method_samples("hsa", [classifier()], windows, 2)
    with pytest.raises(ConfigError, match="without stochastic attention"):
        sampling.method_samples("mc_dropout", [classifier("astromer-tiny-hsa")], windows, 2)
    with pytest.raises(ConfigError, match="one model"):
        sampling.method_samples("mc_dropout", [classifier(), classifier()], windows, 2)
    with pytest.raises(ConfigError, match="uncertainty.methods.*unknown method 'mc'"):
        sampling.method_samples("mc", [classifier()], windows, 2)


def test_ensemble_stacks_one_pass_of_each_member(windows):
    members = [classifier(seed=s) for s in range(3)]
    p = sampling.method_samples("ensemble", members, windows, passes=10)
    assert p.shape[1] == 3
    alone = sampling.method_samples("deterministic", [members[1]], windows, 1)
    assert np.allclose(p[:, 1], alone[:, 0], atol=1e-6)


# --- hierarchical stochastic attention ---------------------------------------------------------------------------

def test_hsa_at_low_temperature_with_one_hot_centroid_weights_is_hard_attention():
    """Keys far from all but one centroid get one-hot mixture weights: each key becomes exactly its centroid. At a
    very low tau2 each query then attends to exactly one key, one of those with the best centroid."""
    torch.manual_seed(0)
    d, length = 8, 6
    centroids = torch.eye(d)[:, :2] * 50  # two orthogonal centroids, far apart
    k = torch.zeros(1, 1, length, d)
    k[..., :3, 0], k[..., 3:, 1] = 1.0, 1.0  # keys 0-2 near centroid 0, keys 3-5 near centroid 1
    assert torch.allclose(stochastic_keys(k, centroids, tau1=1e-3), centroids.T[[0, 0, 0, 1, 1, 1]][None, None])
    q = torch.zeros(1, 1, 4, d)
    q[..., :2, 0], q[..., 2:, 1] = 1.0, 1.0  # queries 0-1 prefer centroid 0, queries 2-3 centroid 1
    mask = key_mask(torch.ones(1, length, dtype=torch.bool))
    for _ in range(20):
        w = stochastic_weights(q, k, centroids, mask, tau1=1e-3, tau2=1e-7)[0, 0]
        assert torch.allclose(w.max(dim=-1).values, torch.ones(4), atol=1e-3)  # one-hot rows: hard attention
        chosen = w.argmax(dim=-1)
        assert (chosen[:2] < 3).all() and (chosen[2:] >= 3).all()


def test_hsa_never_attends_to_padding_and_passes_differ_at_positive_temperature():
    torch.manual_seed(0)
    layer = StochasticAttention(16, heads=2, head_dim=8, tau1=1.0, tau2=1.0).eval()
    x = torch.randn(2, 5, 16)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    q, k, _ = layer.qkv(x).view(2, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    w = stochastic_weights(q, k, layer.centroids, key_mask(mask), 1.0, 1.0)
    assert (w[0, ..., 3:] == 0).all() and torch.allclose(w.sum(-1), torch.ones(2, 2, 5))
    assert not torch.allclose(layer(x, key_mask(mask)), layer(x, key_mask(mask)))  # stochastic in eval mode


def test_hsa_encoder_option_trains_its_centroids():
    model = models.build("astromer-tiny-hsa", dropout=0.0, phase_harmonics=0)
    assert isinstance(model.blocks[0].attn, StochasticAttention) and model.config.centroids == 2
    batch = {"time": torch.rand(2, 10).cumsum(1), "value": torch.randn(2, 10), "error": torch.rand(2, 10),
             "mask": torch.ones(2, 10, dtype=torch.bool)}
    model.reconstruct(model(batch), batch).sum().backward()
    assert model.blocks[0].attn.centroids.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="attention"):
        models.build("astromer-tiny", attention="other")


# --- the stage, and predict ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(survey):  # noqa: F811 (the imported fixture)
    """Fine-tuning runs from scratch: astromer-tiny of seeds 0 and 1 (an ensemble of 2), and astromer-tiny-hsa."""
    root, config = survey
    out = {}
    for model, seed in (("astromer-tiny", 0), ("astromer-tiny", 1), ("astromer-tiny-hsa", 0)):
        run = root / f"unc_{model}_{seed}"
        run.mkdir()
        finetune(root / "s.zarr", root / "split.parquet", None, run / "model.pt", run / "split.parquet",
                 run / "metrics.csv", run / "work", model=model, init="scratch", n_per_class="3", fold=0, seed=seed,
                 settings=FinetuneSettings(**config["train"]["finetune"]), **SELECTION)
        out[model, seed] = run
    return root, out


def score_run(root, method, runs, tmp_path, passes=3):
    out = tmp_path / method
    out.mkdir()
    metrics = uncertainty(method, [r / "model.pt" for r in runs], root / "s.zarr", root / "split.parquet",
                          runs[0] / "split.parquet", out / "objects.parquet", out / "metrics.json",
                          out / "reliability.csv", out / "coverage.csv", UncertaintySettings(passes=passes))
    return metrics, pd.read_parquet(out / "objects.parquet")


def test_ensemble_loads_its_m_checkpoints_and_averages_them(runs, tmp_path):
    root, run = runs
    members = [run["astromer-tiny", 0], run["astromer-tiny", 1]]
    metrics, objects = score_run(root, "ensemble", members, tmp_path)
    assert metrics["members"] == 2 and metrics["passes"] == 2 and metrics["method"] == "ensemble"
    alone = []
    for i, member in enumerate(members):
        (tmp_path / str(i)).mkdir()
        alone.append(score_run(root, "deterministic", [member], tmp_path / str(i))[1])
    columns = [c for c in objects.columns if c.startswith("p_")]
    assert np.allclose(objects[columns], (alone[0][columns] + alone[1][columns]) / 2, atol=1e-5)
    assert objects["object_id"].tolist() == alone[0]["object_id"].tolist() and objects["pv"].gt(0).all()
    written = json.loads((tmp_path / "ensemble" / "metrics.json").read_text())
    assert set(written["misclassification"]) == {"smp", "pv", "bald", "entropy"}


def test_stage_writes_every_output_of_a_stochastic_method(runs, tmp_path):
    root, run = runs
    metrics, objects = score_run(root, "ha_mc_dropout", [run["astromer-tiny-hsa", 0]], tmp_path, passes=4)
    assert metrics["passes"] == 4 and metrics["n_objects"] == len(objects) and 0 <= metrics["macro_f1"] <= 1
    assert metrics["ood"] is None and metrics["n_ood"] == 0 and metrics["held_out_classes"] == []  # every class
    assert objects["label"].notna().all() and (objects["bald"] >= 0).all()
    bins = pd.read_csv(tmp_path / "ha_mc_dropout" / "reliability.csv")
    assert bins.groupby("output")["count"].sum().eq(len(objects)).all()
    coverage = pd.read_csv(tmp_path / "ha_mc_dropout" / "coverage.csv")
    assert coverage.groupby("score")["coverage"].max().eq(1).all()
    with pytest.raises(ConfigError, match="hsa needs a model with hierarchical stochastic attention"):
        score_run(root, "hsa", [run["astromer-tiny", 0]], tmp_path)


def test_ensemble_members_must_read_the_same_inputs(runs, tmp_path):
    root, run = runs
    with pytest.raises(InputError, match="cannot join an ensemble"):
        score_run(root, "ensemble", [run["astromer-tiny", 0], run["astromer-tiny-hsa", 0]], tmp_path)


HELD_OUT = ["QSO", "SNIa"]


@pytest.fixture(scope="module")
def held_out_run(survey, runs):  # noqa: F811 (the imported fixture)
    """astromer-tiny fine-tuned as runs' seed 0, with the classes HELD_OUT held out of its training."""
    root, config = survey
    run = root / "unc_held_out"
    run.mkdir()
    finetune(root / "s.zarr", root / "split.parquet", None, run / "model.pt", run / "split.parquet",
             run / "metrics.csv", run / "work", model="astromer-tiny", init="scratch", n_per_class="3", fold=0, seed=0,
             settings=FinetuneSettings(**config["train"]["finetune"]), **SELECTION, held_out_classes=HELD_OUT)
    return run


def test_held_out_classes_leave_training_validation_and_the_card(runs, held_out_run):
    root, run = runs
    store = LightCurveStore(root / "s.zarr")
    codes = [store.class_names.index(name) for name in HELD_OUT]
    split = pd.read_parquet(held_out_run / "split.parquet")
    everything = pd.read_parquet(run["astromer-tiny", 0] / "split.parquet")
    assert not split["label"].isin(codes).any() and set(split["role"]) == {"train", "validation"}
    # the same objects as the run with every class, less the held-out classes'
    assert split.equals(everything[~everything["label"].isin(codes)].reset_index(drop=True))
    model, card = artifacts.load_model(held_out_run / "model.pt")
    assert card.class_names == [name for name in store.class_names if name not in HELD_OUT]
    assert [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1].out_features == len(card.class_names)


def test_held_out_classes_are_scored_as_out_of_distribution(runs, held_out_run, tmp_path):
    root, _ = runs
    metrics, objects = score_run(root, "mc_dropout", [held_out_run], tmp_path)
    test = pd.read_parquet(root / "split.parquet").query("role == 'test'")
    ood = objects["label"].isin(HELD_OUT)
    assert len(objects) == len(test) and metrics["n_ood"] == ood.sum() == 2 and metrics["n_objects"] == len(test) - 2
    assert set(metrics["ood"]) == {"smp", "pv", "bald", "entropy"}
    assert all(0 <= v <= 1 for v in metrics["ood"].values()) and metrics["held_out_classes"] == HELD_OUT
    assert not {f"p_{name}" for name in HELD_OUT} & set(objects.columns)  # the model does not predict them
    assert set(metrics["classes"]).isdisjoint(HELD_OUT)
    # the uncertainty table: held-out runs are rows of their own, with OOD AUROC columns only when there are some
    (tmp_path / "all.json").write_text(json.dumps(metrics | {"held_out_classes": [], "ood": None, "n_ood": 0}))
    paths = [tmp_path / "all.json", tmp_path / "mc_dropout" / "metrics.json"]
    table = write_summary(paths, tmp_path / "u.csv", tmp_path / "u.md")
    rows = table.set_index(["held_out", "score"])["ood_auroc_mean"]
    assert rows["QSO, SNIa", "pv"] == metrics["ood"]["pv"] and pd.isna(rows["", "pv"])
    assert "| OOD AUROC |" in (tmp_path / "u.md").read_text()
    assert table["ece_floor_mean"].iloc[0] == metrics["calibrated"]["ece_floor"] > 0  # beside the calibrated ECE
    assert "ood_auroc_mean" not in write_summary(paths[:1], tmp_path / "a.csv", tmp_path / "a.md")
    assert "OOD" not in (tmp_path / "a.md").read_text()


@pytest.mark.parametrize("held_out, problem", [(["SN Ia"], r"\['SN Ia'\] are not classes .*RRab, RRc"),
                                               (CLASSES[1:], "a classifier needs two classes")])
def test_held_out_classes_must_leave_classes_of_the_data_set(survey, tmp_path, held_out, problem):  # noqa: F811
    root, config = survey
    with pytest.raises(ConfigError, match=rf"uncertainty.held_out_classes.*{problem}"):
        finetune(root / "s.zarr", root / "split.parquet", None, tmp_path / "model.pt", tmp_path / "split.parquet",
                 tmp_path / "metrics.csv", tmp_path / "work", model="astromer-tiny", init="scratch", n_per_class="3",
                 fold=0, seed=0, settings=FinetuneSettings(**config["train"]["finetune"]), **SELECTION,
                 held_out_classes=list(held_out))


def test_predict_cli_adds_the_scores(runs, tmp_path, capsys):
    _, run = runs
    simulate_survey(1, seed=4, min_points=20, max_points=80).obs.to_csv(tmp_path / "lcs.csv", index=False)
    model = str(run["astromer-tiny", 0] / "model.pt")
    out = tmp_path / "p.csv"
    assert main(["predict", model, "long", str(tmp_path / "lcs.csv"), "--out", str(out), "--uncertainty",
                 "mc_dropout", "--passes", "3"]) == 0
    table = pd.read_csv(out)
    seen = table["note"].isna() if "note" in table else table["pred"].notna()  # no note column: all classified
    assert {"smp", "pv", "bald", "entropy"} <= set(table.columns) and table.loc[seen, "smp"].notna().all()
    assert seen.sum() > 5 and table.loc[~seen, "smp"].isna().all()
    assert "mc_dropout scores (median)" in capsys.readouterr().out
    assert main(["predict", model, "long", str(tmp_path / "lcs.csv"), "--out", str(out), "--member", model]) == 1
    assert "--member" in capsys.readouterr().err
