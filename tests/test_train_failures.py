"""Training that must not go wrong quietly: a non-finite loss stops the run naming the objects, metrics survive a
real SIGKILL up to the last checkpoint, an unreadable checkpoint is a clear error."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from astroflow import models
from astroflow.errors import AstroflowError
from astroflow.ragged import Ragged
from astroflow.train.data import Windows
from astroflow.train.tasks import Classification, MaskedReconstruction, Reconstructor
from astroflow.train.trainer import TrainConfig, Trainer, TrainingError
from test_train import one_thread  # noqa: F401 (autouse fixture: tiny models on one thread)

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIG = TrainConfig(max_steps=12, batch_size=8, warmup_steps=3, eval_every=50, checkpoint_every=3, patience=0)


def survey(n=20, seed=0) -> Ragged:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(20, 60, n)
    total = int(sizes.sum())
    return Ragged(time=np.concatenate([np.sort(rng.uniform(0, 100, s)) for s in sizes]),
                  value=rng.normal(15, 0.1, total).astype(np.float32), error=np.full(total, 0.1, np.float32),
                  band=np.zeros(total, np.int8), row_size=sizes, label=np.arange(n) % 2,
                  object_id=np.array([f"star{i}" for i in range(n)]), bands=["V"], class_names=["a", "b"])


def pretraining(ragged):
    index = np.arange(len(ragged))
    return MaskedReconstruction(Windows(ragged, index[::2], 32, None), Windows(ragged, index[1::2], 32, None), 8)


def encoder():
    torch.manual_seed(0)
    return models.build("astromer-tiny", window=32, phase_harmonics=0)  # no periods in these batches


def test_nan_values_stop_pretraining_naming_the_objects(tmp_path):
    ragged = survey()
    ragged.value[ragged.offset[4]] = np.nan  # star4 trains (even index); star5 validates
    with pytest.raises(TrainingError, match=r"loss is nan at step \d+.*star4") as err:
        Trainer(CONFIG, tmp_path / "run").fit(Reconstructor(encoder()), pretraining(ragged))
    assert "star5" not in str(err.value)
    assert isinstance(err.value, AstroflowError)
    assert not (tmp_path / "run" / "last.pt").exists()  # nothing of the poisoned step is kept


def test_nan_values_stop_fine_tuning(tmp_path):
    ragged = survey()
    ragged.value[ragged.offset[2]] = np.inf
    index = np.arange(len(ragged))
    task = Classification(Windows(ragged, index[:16], 32, None), Windows(ragged, index[16:], 32, None), 8)
    from astroflow.models.heads import Classifier, MeanPoolHead

    enc = encoder()
    model = Classifier(enc, MeanPoolHead(enc.config.dim, 2, (8,)))
    with pytest.raises(TrainingError, match="star2"):
        Trainer(CONFIG, tmp_path / "run").fit(model, task)


KILLED_RUN = """
import os, signal, sys
import numpy as np, torch
sys.path.insert(0, {tests!r})
from test_train_failures import CONFIG, encoder, pretraining, survey
from astroflow.train.tasks import Reconstructor
from astroflow.train.trainer import Trainer

torch.set_num_threads(1)
task = pretraining(survey())
draw = task.batch
calls = []
def batch(rng, step):
    calls.append(1)
    if len(calls) == 9:  # asked for while step 8 trains: a real kill, no Python clean-up
        os.kill(os.getpid(), signal.SIGKILL)
    return draw(rng, step)
task.batch = batch
Trainer(CONFIG, sys.argv[1]).fit(Reconstructor(encoder()), task)
"""


def test_metrics_survive_a_sigkill_up_to_the_checkpoint(tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILLED_RUN.format(tests=str(Path(__file__).parent))))
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "killed")], env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == -9, done.stderr
    step = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["step"]
    assert step == 6  # checkpoint_every 3, eval_every 50: no validation row forces a flush
    logged = [int(line.split(",")[0]) for line in (tmp_path / "killed" / "metrics.csv").read_text().splitlines()[1:]]
    assert logged[:step] == list(range(1, step + 1))

    Trainer(CONFIG, tmp_path / "killed").fit(Reconstructor(encoder()), pretraining(survey()))
    Trainer(CONFIG, tmp_path / "straight").fit(Reconstructor(encoder()), pretraining(survey()))
    assert (tmp_path / "killed" / "metrics.csv").read_text() == (tmp_path / "straight" / "metrics.csv").read_text()


@pytest.mark.parametrize("content", [b"not a checkpoint", b"\x80\x04\x95garbage"])
def test_tampered_checkpoint_is_a_clear_error(tmp_path, content):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(content)
    with pytest.raises(AstroflowError, match=r"last.pt.*delete it"):
        Trainer(CONFIG, tmp_path / "run").fit(Reconstructor(encoder()), pretraining(survey()))
