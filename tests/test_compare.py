"""The comparison table over evaluations: grouping, mean and std over folds, order, Markdown, bad files."""
import json

import numpy as np
import pytest

from astroflow.errors import InputError
from astroflow.report.compare import bootstrap_se, markdown, scores, write_comparison
from astroflow.train.metrics import classification_metrics, collapse


def metrics(path, model, init, n, fold, f1, accuracy=0.5, confusion=(), flags=(), seconds=None):
    path.write_text(json.dumps({"model": model, "init": init, "n_per_class": n, "fold": fold, "seed": 0,
                                "n_objects": 10, "macro_f1": f1, "accuracy": accuracy, "train_seconds": seconds,
                                "confusion_matrix": [list(r) for r in confusion], "flags": list(flags)}))
    return path


def test_folds_are_averaged_per_model_init_and_size(tmp_path):
    paths = [metrics(tmp_path / "a0.json", "rnn", "scratch", "20", 0, 0.4, seconds=10.0),
             metrics(tmp_path / "a1.json", "rnn", "scratch", "20", 1, 0.6, seconds=30.0),
             metrics(tmp_path / "b.json", "forest", "scratch", "all", 0, 0.7),
             metrics(tmp_path / "c.json", "rnn", "scratch", "100", 0, 0.5)]
    table = write_comparison(paths, tmp_path / "t.csv", tmp_path / "t.md")
    assert table["n_per_class"].tolist() == ["20", "100", "all"]
    rnn20 = table.iloc[0]
    assert rnn20["runs"] == 2 and rnn20["macro_f1_mean"] == pytest.approx(0.5)
    assert rnn20["macro_f1_std"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    assert np.isnan(table.iloc[2]["macro_f1_std"])
    text = (tmp_path / "t.md").read_text()
    assert rnn20["train_seconds"] == pytest.approx(20.0)  # the mean training time of its runs
    assert "| rnn | scratch | 20 | 2 | 10 | 0.500 ± 0.141 | 0.500 ± 0.000 | 20 |  |" in text
    assert "| forest | scratch | all | 1 | 10 | 0.700 | 0.500 |  |  |" in text  # no time recorded: left empty
    assert text == markdown(table)


def test_a_file_that_is_not_an_evaluation_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "rnn"}')
    with pytest.raises(InputError, match="bad.json"):
        write_comparison([bad], tmp_path / "t.csv", tmp_path / "t.md")


def test_one_run_has_a_test_set_error_and_chance_levels(tmp_path):
    confusion = [[6, 2, 0], [1, 3, 0], [0, 0, 0]]  # 8 and 4 test objects of two classes; the model knows three
    f1 = scores(np.array(confusion, dtype=float))
    assert f1[0] == pytest.approx(np.mean([2 * 6 / (8 + 7), 2 * 3 / (4 + 5)])) and f1[1] == pytest.approx(9 / 12)
    table = write_comparison([metrics(tmp_path / "a.json", "cnn", "scratch", "20", 0, f1[0], f1[1], confusion)],
                             tmp_path / "t.csv", tmp_path / "t.md")
    row = table.iloc[0]
    assert row["test_objects"] == 10 and np.isnan(row["macro_f1_std"])
    assert 0.05 < row["accuracy_se"] < 0.2  # about sqrt(0.75 * 0.25 / 12) = 0.125
    guess = table.set_index("init").loc["uniform guess"]
    assert guess["model"] == "chance" and guess["accuracy_mean"] == pytest.approx(1 / 3)
    share = np.array([8, 4]) / 12
    assert guess["macro_f1_mean"] == pytest.approx(np.mean(2 * share / 3 / (share + 1 / 3)))
    majority = table.set_index("init").loc["majority class"]
    assert majority["accuracy_mean"] == pytest.approx(8 / 12)
    assert majority["macro_f1_mean"] == pytest.approx(2 * (8 / 12) / (1 + 8 / 12) / 2)
    text = (tmp_path / "t.md").read_text()
    assert f"| cnn | scratch | 20 | 1 | 10 | {f1[0]:.3f} ± {row['macro_f1_se']:.3f}* |" in text
    assert f"| chance | majority class |  | 0 | 10 | {majority['macro_f1_mean']:.3f} | 0.667 |" in text


def test_bootstrap_is_seeded_and_zero_for_a_perfect_single_class():
    assert bootstrap_se([[5, 0], [0, 5]]) == bootstrap_se([[5, 0], [0, 5]])
    assert bootstrap_se([[7]]) == (0.0, 0.0)
    assert all(np.isnan(bootstrap_se([])))


def test_collapsed_runs_are_flagged_with_their_count(tmp_path):
    paths = [metrics(tmp_path / "a0.json", "rnn", "scratch", "20", 0, 0.02, flags=["one class", "chance"]),
             metrics(tmp_path / "a1.json", "rnn", "scratch", "20", 1, 0.4),
             metrics(tmp_path / "a2.json", "rnn", "scratch", "20", 2, 0.1, flags=["chance"])]
    table = write_comparison(paths, tmp_path / "t.csv", tmp_path / "t.md")
    assert table["flags"].tolist() == ["one class (1/3), chance (2/3)"]
    assert "| one class (1/3), chance (2/3) |" in (tmp_path / "t.md").read_text()


def test_collapse_flags_one_class_and_chance_but_not_a_learnt_classifier():
    rng = np.random.default_rng(0)
    label = np.repeat(np.arange(4), 50)
    assert collapse(label, np.zeros_like(label)) == ["one class", "chance"]
    assert collapse(label, rng.integers(0, 4, len(label))) == ["chance"]
    learnt = np.where(rng.random(len(label)) < 0.6, label, rng.integers(0, 4, len(label)))
    assert collapse(label, learnt) == []
    scores = classification_metrics(label, learnt, list("abcd"))
    assert scores["flags"] == [] and scores["balanced_accuracy"] == pytest.approx(
        np.mean([np.mean(learnt[label == c] == c) for c in range(4)]))
