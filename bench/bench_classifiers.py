"""Training and inference throughput of every classifier on the CPU, in objects per CPU-second (process time, so a
busy machine does not skew the ratios; with --threads 1 that is the rate of one core).

Each model runs as the finetune and evaluate stages run it: its own input source (windows, dt/dm sequences or
images rendered on the fly, astroflow.train.inputs) feeding astroflow.train.Trainer for a fixed number of steps,
then predict_proba over every object (all windows of an object for the transformers). The forest runs as its
rules do: features of every object, then the fit (training) and the features plus prediction of every object
(inference), both through astroflow.train.forest. The reference in the same run is astromer-tiny, the workflow's
default transformer; ratios are against it.

    python bench/bench_classifiers.py [--models astromer-tiny rnn cnn vit-micro swinv2-micro forest] [--steps 20]
        [--batch 64] [--threads 1] [--objects 100]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from astroflow import models
from astroflow.clean import clean
from astroflow.features import read_features, write_features
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import LightCurveStore, write_store
from astroflow.train import artifacts
from astroflow.train.forest import ForestSettings, forest_proba, load_forest, train_forest
from astroflow.train.inference import predict_proba
from astroflow.train.inputs import model_inputs
from astroflow.train.split import split
from astroflow.train.tasks import Classification
from astroflow.train.trainer import TrainConfig, Trainer

REFERENCE = "astromer-tiny"


def measure(name: str, store: LightCurveStore, ragged, args: argparse.Namespace, workdir: str) -> tuple[float, ...]:
    """(training objects/s, inference objects/s, share of training time spent building inputs)."""
    card = replace(artifacts.new_card(name, store, image={}), kind="classifier", class_names=store.class_names,
                   head="layers", head_hidden=[256, 128])
    torch.manual_seed(0)
    model = artifacts.build_classifier(models.build(name, **card.overrides), card)
    index = np.arange(len(ragged))
    train = model_inputs(ragged, index, card, augment=True)
    task = Classification(train, model_inputs(ragged, index[:64], card), args.batch)
    rng = np.random.default_rng(0)
    task.batch(rng, 0)  # compiles the renderer (numba) outside the timing
    start = time.process_time()
    for _ in range(args.steps):
        task.batch(rng, 0)
    inputs_s = time.process_time() - start
    config = TrainConfig(max_steps=args.steps, batch_size=args.batch, eval_every=10**9, checkpoint_every=10**9)
    trainer = Trainer(config, f"{workdir}/{name}")
    start = time.process_time()
    trainer.fit(model, task)
    train_s = time.process_time() - start
    start = time.process_time()
    predict_proba(model, model_inputs(ragged, index, card), 256, trainer.device)
    infer_s = time.process_time() - start
    return args.steps * args.batch / train_s, len(index) / infer_s, inputs_s / train_s


def measure_forest(store_path: str, args: argparse.Namespace, workdir: str) -> tuple[float, ...]:
    """(training objects/s, inference objects/s, share of training time spent on features) of the forest."""
    split(store_path, f"{workdir}/split.parquet", test_fraction=0.2, split_seed=0)
    start = time.process_time()
    write_features(store_path, f"{workdir}/features.parquet", threads=args.threads)
    features_s = time.process_time() - start
    start = time.process_time()
    train_forest(f"{workdir}/features.parquet", f"{workdir}/split.parquet", f"{workdir}/forest.skops",
                 f"{workdir}/forest_split.parquet", n_per_class="all", fold=0, seed=0, settings=ForestSettings(),
                 split_seed=0, validation_fraction=0.2, threads=args.threads)
    fit_s = time.process_time() - start
    model, meta = load_forest(f"{workdir}/forest.skops")
    table, _ = read_features(f"{workdir}/features.parquet")
    start = time.process_time()
    forest_proba(model, meta, table)
    predict_s = time.process_time() - start
    n_train = int((pd.read_parquet(f"{workdir}/forest_split.parquet")["role"] == "train").sum())
    per_object = features_s / len(table)
    return (n_train / (n_train * per_object + fit_s), len(table) / (features_s + predict_s),
            n_train * per_object / (n_train * per_object + fit_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+",
                        default=[REFERENCE, "rnn", "cnn", "vit-micro", "swinv2-micro", "forest"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--objects", type=int, default=100, help="simulated objects per class")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = [REFERENCE] + [m for m in args.models if m != REFERENCE]
    with tempfile.TemporaryDirectory() as tmp:
        write_store(clean(simulate_survey(args.objects, seed=0))[0], f"{tmp}/s.zarr", class_names=list(CLASSES))
        store = LightCurveStore(f"{tmp}/s.zarr")
        ragged = store.load()
        rates = {name: measure_forest(f"{tmp}/s.zarr", args, tmp) if name == "forest"
                 else measure(name, store, ragged, args, tmp) for name in names}
    print(f"{len(ragged)} simulated light curves (MACHO-like B, R), batch {args.batch}, {args.steps} steps, "
          f"{args.threads} thread(s), {'cuda' if torch.cuda.is_available() else 'cpu'}")
    print("inputs share: time spent building inputs (windows, sequences, images; features for the forest)")
    print(f"{'model':22} {'train obj/cpu-s':>16} {'x ref':>7} {'inputs share':>13} {'infer obj/cpu-s':>16} {'x ref':>7}")
    ref_train, ref_infer, _ = rates[REFERENCE]
    for name, (train, infer, share) in rates.items():
        print(f"{name:22} {train:16.0f} {train / ref_train:7.2f} {share:13.0%} {infer:16.0f} {infer / ref_infer:7.2f}")


if __name__ == "__main__":
    main()
