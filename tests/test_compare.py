"""The comparison table over evaluations: grouping, mean and std over folds, order, Markdown, bad files."""
import json

import numpy as np
import pytest

from astroflow.errors import InputError
from astroflow.report.compare import markdown, write_comparison


def metrics(path, model, init, n, fold, f1, accuracy=0.5):
    path.write_text(json.dumps({"model": model, "init": init, "n_per_class": n, "fold": fold, "seed": 0,
                                "n_objects": 10, "macro_f1": f1, "accuracy": accuracy, "confusion_matrix": []}))
    return path


def test_folds_are_averaged_per_model_init_and_size(tmp_path):
    paths = [metrics(tmp_path / "a0.json", "rnn", "scratch", "20", 0, 0.4),
             metrics(tmp_path / "a1.json", "rnn", "scratch", "20", 1, 0.6),
             metrics(tmp_path / "b.json", "forest", "scratch", "all", 0, 0.7),
             metrics(tmp_path / "c.json", "rnn", "scratch", "100", 0, 0.5)]
    table = write_comparison(paths, tmp_path / "t.csv", tmp_path / "t.md")
    assert table["n_per_class"].tolist() == ["20", "100", "all"]
    rnn20 = table.iloc[0]
    assert rnn20["runs"] == 2 and rnn20["macro_f1_mean"] == pytest.approx(0.5)
    assert rnn20["macro_f1_std"] == pytest.approx(np.std([0.4, 0.6], ddof=1))
    assert np.isnan(table.iloc[2]["macro_f1_std"])
    text = (tmp_path / "t.md").read_text()
    assert "| rnn | scratch | 20 | 2 | 0.500 ± 0.141 | 0.500 ± 0.000 |" in text
    assert "| forest | scratch | all | 1 | 0.700 | 0.500 |" in text
    assert text == markdown(table)


def test_a_file_that_is_not_an_evaluation_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "rnn"}')
    with pytest.raises(InputError, match="bad.json"):
        write_comparison([bad], tmp_path / "t.csv", tmp_path / "t.md")
