"""The trainer (seeded steps, exact resume after a kill, early stopping, progress lines), the tasks and the data
splits."""
import itertools
import logging
import re

import numpy as np
import pytest
import torch

from astroflow import models
from astroflow.errors import ConfigError
from astroflow.logs import progress
from astroflow.models.heads import Classifier, MeanPoolHead
from astroflow.ragged import Ragged
from astroflow.train.data import Windows, balanced_draw
from astroflow.train.inference import predict_proba
from astroflow.train.split import labelled_subset, parse_n_per_class, stratified_split
from astroflow.train.tasks import Classification, MaskedReconstruction, Reconstructor
from astroflow.train.trainer import MetricsWriter, TrainConfig, Trainer, learning_rate


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train fastest on one thread, and a busy CI machine does not slow them down further."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def easy_survey(n_per_class=30, seed=0, points=(20, 80)) -> Ragged:
    """Two classes anyone can tell apart: a large-amplitude sinusoid and flat noise."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(*points, 2 * n_per_class)
    label = np.repeat([0, 1], n_per_class)
    time, value = [], []
    for size, cls in zip(sizes, label):
        t = np.sort(rng.uniform(0, 100, size))
        signal = np.sin(2 * np.pi * t / rng.uniform(0.5, 3)) if cls == 0 else 0.0
        time.append(t)
        value.append(signal + rng.normal(0, 0.1, size))
    n = int(sizes.sum())
    return Ragged(time=np.concatenate(time), value=np.concatenate(value).astype(np.float32),
                  error=np.full(n, 0.1, np.float32), band=np.zeros(n, np.int8), row_size=sizes, label=label,
                  bands=["V"], class_names=["periodic", "flat"])


def pretraining(ragged, batch_size=8):
    index = np.arange(len(ragged))
    return MaskedReconstruction(Windows(ragged, index[::2], 32, None), Windows(ragged, index[1::2], 32, None),
                                batch_size)


def tiny_encoder(seed=0):
    torch.manual_seed(seed)
    return models.build("astromer-tiny", window=32, phase_harmonics=0)


class Killed(Exception):
    pass


class KilledAt:
    """The task, until the batch of step ``at`` is asked for: then the run dies."""

    def __init__(self, task, at):
        self.task, self.at, self.calls = task, at, 0
        self.monitor = task.monitor

    def batch(self, rng, step):
        if self.calls == self.at:
            raise Killed
        self.calls += 1
        return self.task.batch(rng, step)

    def loss(self, *args):
        return self.task.loss(*args)

    def validate(self, model):
        return self.task.validate(model)


CONFIG = TrainConfig(max_steps=12, batch_size=8, warmup_steps=3, eval_every=4, checkpoint_every=5, patience=0)


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_resume_after_kill_gives_the_same_weights(tmp_path):
    ragged = easy_survey(10)
    straight = Reconstructor(tiny_encoder())
    Trainer(CONFIG, tmp_path / "straight").fit(straight, pretraining(ragged))

    resumed = Reconstructor(tiny_encoder())
    with pytest.raises(Killed):
        Trainer(CONFIG, tmp_path / "killed").fit(resumed, KilledAt(pretraining(ragged), 8))
    saved = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert saved["step"] == 5 and saved["seconds"] > 0
    fresh = Reconstructor(tiny_encoder(seed=99))  # a new process: its initial weights do not matter
    trainer = Trainer(CONFIG, tmp_path / "killed")
    trainer.fit(fresh, pretraining(ragged))
    assert trainer.seconds > saved["seconds"]  # the training time counts the part before the kill

    a, b = weights(straight), weights(fresh)
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [line.split(",")[0] for line in (tmp_path / "killed" / "metrics.csv").read_text().splitlines()[1:]]
    assert rows == [str(s) for s in range(1, 13)]  # the steps redone after the kill are logged once
    assert (tmp_path / "straight" / "metrics.csv").read_text() == (tmp_path / "killed" / "metrics.csv").read_text()


def test_progress_lines_name_the_run_its_step_and_loss(tmp_path, caplog, monkeypatch):
    from astroflow.train import trainer

    monkeypatch.setattr(trainer, "progress", lambda *a, **k: progress(*a, **(k | {"every_s": 0})))  # a line a step
    caplog.set_level(logging.INFO, logger="astroflow")
    config = TrainConfig(**{**CONFIG.__dict__, "max_steps": 4})
    Trainer(config, tmp_path, name="astromer-tiny pretraining s0").fit(Reconstructor(tiny_encoder()),
                                                                             pretraining(easy_survey(10)))
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"astromer-tiny pretraining s0: step 1/4 loss [\d.]+ \(\d+ s\)", lines[0]), lines
    assert any(re.match(r"astromer-tiny pretraining s0: step 4/4 validation: val_rmse [\d.]+", line)
               for line in lines), lines
    assert re.match(r"astromer-tiny pretraining s0: step 4/4 loss [\d.]+, val_rmse [\d.]+, done in", lines[-1])


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    ragged = easy_survey(10)
    runs = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model = Reconstructor(tiny_encoder())
        config = TrainConfig(**{**CONFIG.__dict__, "max_steps": 4, "seed": seed})
        Trainer(config, tmp_path / name).fit(model, pretraining(ragged))
        runs.append(weights(model))
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_checkpoint_of_another_setup_is_not_resumed(tmp_path):
    ragged = easy_survey(10)
    Trainer(CONFIG, tmp_path, run_id="one").fit(Reconstructor(tiny_encoder()), pretraining(ragged))
    other = TrainConfig(**{**CONFIG.__dict__, "max_steps": 3})
    Trainer(other, tmp_path, run_id="one").fit(Reconstructor(tiny_encoder()), pretraining(ragged))
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 3


def test_early_stopping_keeps_the_best_weights(tmp_path):
    class Worsening:
        """Validation gets worse after the first check: training stops after ``patience`` more."""

        monitor = "loss"

        def __init__(self, task):
            self.task, self.checks = task, 0

        def batch(self, rng, step):
            return self.task.batch(rng, step)

        def loss(self, *args):
            return self.task.loss(*args)

        def validate(self, model):
            self.checks += 1
            if self.checks == 1:
                self.best = weights(model)
            return {"loss": float(self.checks)}

    task = Worsening(pretraining(easy_survey(10)))
    model = Reconstructor(tiny_encoder())
    config = TrainConfig(max_steps=100, batch_size=8, eval_every=2, checkpoint_every=50, patience=2)
    Trainer(config, tmp_path).fit(model, task)
    assert task.checks == 3
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 6
    assert all(torch.equal(v, task.best[k]) for k, v in model.state_dict().items())


def test_learning_rate_warms_up_then_decays():
    config = TrainConfig(max_steps=100, lr=1.0, warmup_steps=10)
    rates = [learning_rate(config, s) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))
    assert rates[-1] == pytest.approx(0.1, abs=1e-3)


def test_fine_tuning_beats_chance_on_an_easy_set(tmp_path):
    ragged = easy_survey(30)
    index = np.arange(len(ragged))
    test = stratified_split(ragged.label, 0.3, 0)
    train = index[~test]
    held = stratified_split(ragged.label[train], 0.25, 1)
    torch.manual_seed(0)
    encoder = models.build("astromer-tiny", window=32, phase_harmonics=0)
    classifier = Classifier(encoder, MeanPoolHead(encoder.config.dim, 2, hidden=(32,)))
    task = Classification(Windows(ragged, train[~held], 32, None), Windows(ragged, train[held], 32, None), 16)
    config = TrainConfig(max_steps=200, batch_size=16, lr=3e-3, warmup_steps=5, eval_every=50, checkpoint_every=200,
                         patience=0)
    Trainer(config, tmp_path).fit(classifier, task)
    probs = predict_proba(classifier, Windows(ragged, index[test], 32, None), batch_size=7)
    assert probs.shape == (int(test.sum()), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    assert (probs.argmax(axis=1) == ragged.label[test]).mean() >= 0.8


def test_frozen_encoder_does_not_change(tmp_path):
    ragged = easy_survey(10)
    encoder = tiny_encoder()
    before = weights(encoder)
    classifier = Classifier(encoder, MeanPoolHead(encoder.config.dim, 2, hidden=(8,)), freeze_encoder=True)
    index = np.arange(len(ragged))
    task = Classification(Windows(ragged, index[::2], 32, None), Windows(ragged, index[1::2], 32, None), 8)
    Trainer(TrainConfig(max_steps=5, batch_size=8, eval_every=5, patience=0), tmp_path).fit(classifier, task)
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())


def test_stratified_split_takes_a_share_of_every_class():
    labels = np.repeat([0, 1, 2, -1], [50, 10, 2, 20])
    chosen = stratified_split(labels, 0.2, 3)
    assert [int(chosen[labels == c].sum()) for c in (0, 1, 2, -1)] == [10, 2, 1, 4]
    assert np.array_equal(chosen, stratified_split(labels, 0.2, 3))
    assert not np.array_equal(chosen, stratified_split(labels, 0.2, 4))
    floored = stratified_split(labels, 0.2, 3, floor=5)  # at most half of a class
    assert [int(floored[labels == c].sum()) for c in (0, 1, 2, -1)] == [10, 5, 1, 5]


def test_labelled_subsets_per_fold():
    labels = np.repeat([0, 1, -1], [40, 15, 5])
    pool = np.arange(50)  # the last 10 objects (5 of class 1, 5 unlabelled) are held out
    first = labelled_subset(labels, pool, 20, seed=0, fold=0)
    assert np.bincount(labels[first]).tolist() == [20, 10]  # class 1 has only 10 in the pool
    assert set(first) <= set(pool)
    assert np.array_equal(first, labelled_subset(labels, pool, 20, seed=0, fold=0))
    assert not np.array_equal(first, labelled_subset(labels, pool, 20, seed=0, fold=1))
    assert len(labelled_subset(labels, pool, None, seed=0, fold=0)) == 50


def test_n_per_class_wildcard():
    assert parse_n_per_class("all") is None and parse_n_per_class("20") == 20
    for bad in ("0", "-3", "many"):
        with pytest.raises(ConfigError, match="n_per_class"):
            parse_n_per_class(bad)


def test_balanced_draw_is_uniform_over_classes():
    labels = np.repeat([0, 1, 2], [1000, 10, 1])
    drawn = labels[balanced_draw(labels, 30000, np.random.default_rng(0))]
    np.testing.assert_allclose(np.bincount(drawn) / 30000, 1 / 3, atol=0.02)


def test_metrics_writer_drops_rows_after_the_checkpoint(tmp_path):
    path = tmp_path / "m.csv"
    writer = MetricsWriter(path, 0)
    for step in range(1, 6):
        writer.write({"step": step, "loss": step / 10, **({"val_loss": 1.0} if step == 4 else {})})
    writer.flush()
    MetricsWriter(path, 3).flush()
    assert path.read_text().splitlines() == ["step,loss,val_loss", "1,0.1,", "2,0.2,", "3,0.3,"]
