"""Pretraining on other data sets (train.pretrain.datasets): which objects pretrain, the checks, the card (the DAG:
tests/test_workflow.py)."""

import numpy as np
import pandas as pd
import pytest

from astroflow.clean import clean
from astroflow.errors import ConfigError
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import LightCurveStore, write_store
from astroflow.train import artifacts
from astroflow.train import pretrain as pretrain_module
from astroflow.train.data import Windows
from astroflow.train.finetune import FinetuneSettings, finetune
from astroflow.train.pretrain import Corpus, PretrainSettings, pretrain
from astroflow.train.split import split
from astroflow.train.streaming import Stores, Streamed
from test_train import one_thread  # noqa: F401 (autouse fixture: tiny models on one thread)

STEPS = {"max_steps": 4, "batch_size": 16, "warmup_steps": 1, "eval_every": 2, "checkpoint_every": 2}
SELECTION = {"split_seed": 0, "validation_fraction": 0.2}
NO_FEATURES = {"phase_harmonics": 0, "features": "none"}
SOURCES = {"inputs": {"part-0000.parquet": "a" * 64}}  # the fine-tuning set's source files, as ingest records them


def unlabelled(cat):
    cat.objects["label"] = None
    return clean(cat)[0]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The fine-tuning set (4 simulated objects per class, its split), an unlabelled corpus of the same bands, one of
    other bands, and a copy of the fine-tuning set under another name (the same source files)."""
    root = tmp_path_factory.mktemp("corpora")
    cat = clean(simulate_survey(4, seed=3, min_points=20, max_points=80))[0]
    write_store(cat, root / "sim.zarr", class_names=list(CLASSES), provenance=SOURCES)
    write_store(cat, root / "copy.zarr", class_names=list(CLASSES), provenance=SOURCES)
    write_store(unlabelled(simulate_survey(2, seed=9, min_points=20, max_points=80)), root / "corpus.zarr")
    write_store(unlabelled(simulate_survey(1, bands="lsst", seed=9, min_points=20, max_points=80)),
                root / "lsst.zarr")
    split(root / "sim.zarr", root / "split.parquet", test_fraction=0.25, split_seed=0)
    return root


def run(root, out, monkeypatch, corpora=(), with_pool=True, overrides=None):
    """Pretrain on ``corpora`` (and the pool); returns the object ids every window was drawn from."""
    seen = set()
    inputs = pretrain_module._inputs

    def recorded(ragged, index, **kwargs):
        seen.update(ragged.object_id[index])
        return inputs(ragged, index, **kwargs)

    monkeypatch.setattr(pretrain_module, "_inputs", recorded)
    pretrain(root / "sim.zarr", root / "split.parquet", root / f"{out}.pt", root / f"{out}.csv", root / f"work_{out}",
             model="astromer-tiny", seed=0, settings=PretrainSettings(**STEPS), **SELECTION, overrides=overrides,
             dataset="sim",
             corpora=[Corpus(name, root / f"{name}.zarr") for name in corpora], with_pool=with_pool)
    return seen


@pytest.fixture(scope="module")
def pretrained(stores):
    """The objects seen and the card of pretraining on the corpus and the pool (the model folding at the feature
    tables' periods), and on the corpus alone (a model reading no features: quicker)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return {out: (run(stores, out, monkeypatch, ["corpus"], *how), artifacts.load_model(stores / f"{out}.pt")[1])
                for out, how in (("both", (True,)), ("alone", (False, NO_FEATURES)))}


def ids(root, name, role=None):
    objects = LightCurveStore(root / f"{name}.zarr").objects["object_id"]
    if role:
        objects = objects[pd.read_parquet(root / "split.parquet")["role"].to_numpy() == role]
    return {f"{name}/{i}" for i in objects}


def test_a_corpus_and_the_pool_pretrain_without_a_test_object(stores, pretrained):
    seen, card = pretrained["both"]
    assert seen == ids(stores, "sim", "pool") | ids(stores, "corpus")
    assert not seen & ids(stores, "sim", "test") and ids(stores, "sim", "test")
    assert sorted(card.pretrained_on) == ["corpus", "sim"]
    assert all(len(checksum) == 64 for checksum in card.pretrained_on.values())
    out = stores / "finetuned"
    out.mkdir()
    finetune(stores / "sim.zarr", stores / "split.parquet", stores / "both.pt", out / "model.pt", out / "split.parquet",
             out / "metrics.csv", out / "work", model="astromer-tiny", init="pretrained", n_per_class="3", fold=0,
             seed=0, settings=FinetuneSettings(**STEPS, head_hidden=[16]), **SELECTION)
    assert artifacts.load_model(out / "model.pt")[1].pretrained_on == card.pretrained_on  # the card keeps it


def test_a_corpus_alone_pretrains_with_the_checksum_of_its_objects(stores, pretrained):
    seen, card = pretrained["alone"]
    assert seen == ids(stores, "corpus") and list(card.pretrained_on) == ["corpus"]
    assert card.pretrained_on["corpus"] == pretrained["both"][1].pretrained_on["corpus"]
    assert card.config_hash != pretrained["both"][1].config_hash


@pytest.mark.parametrize(("name", "problem"), [
    ("lsst", "data set 'lsst' has bands ['u', 'g', 'r', 'i', 'z', 'y'] (mag), the fine-tuning set 'sim' has ['B', 'R']"),
    ("copy", "data set 'copy' is made from 1 of the same source files as the fine-tuning set 'sim'"),
    ("sim", "'sim' is named twice, or is the fine-tuning set 'sim' itself")])
def test_a_corpus_that_cannot_pretrain_the_encoder_is_refused(stores, monkeypatch, name, problem):
    with pytest.raises(ConfigError, match="train.pretrain.datasets") as error:
        run(stores, f"bad_{name}", monkeypatch, corpora=[name])
    assert problem in str(error.value)


def test_stores_read_as_one_name_their_objects_and_stream_through_one_buffer(stores):
    blocks = Stores({"sim": stores / "sim.zarr", "corpus": stores / "corpus.zarr"}, 64)
    sim, corpus = LightCurveStore(stores / "sim.zarr"), LightCurveStore(stores / "corpus.zarr")
    assert len(blocks) == 2 and blocks.bounds(1) == (len(sim), len(sim) + len(corpus))
    assert list(blocks.objects["object_id"]) == sorted(ids(stores, "sim"), key=lambda i: i) + sorted(
        ids(stores, "corpus"))
    wanted = np.array([1, len(sim) + 2])
    both = blocks.load(wanted)
    assert list(both.object_id) == [f"sim/{sim.objects.object_id[1]}", f"corpus/{corpus.objects.object_id[2]}"]
    np.testing.assert_array_equal(both.time, np.concatenate([sim.load([1]).time, corpus.load([2]).time]))
    blocks.capacity = 1  # one store at a time in the buffer: it slides from one to the other
    stream = Streamed(blocks, np.arange(len(sim) + len(corpus)), lambda r, i: Windows(r, i, 16, None), 8, seed=0)
    held = {tuple(stream.resident(step)) for step in range(20)}
    assert held == {(0,), (1,)}
