"""Macro-F1 of the Astromer-family classifiers on a light-curve store: pretrained + fine-tuned versus scratch, over
labelled subsets of 20 / 100 / all objects per class and k folds; single-band versus multiband; MoE versus dense.

Runs the workflow's own stages (astroflow.train.stages) on a store built by the workflow, two jobs at a time on one
thread each, and prints a table of mean +- std over folds. Every run's outputs stay in --out, so a second call
only runs what is missing. CPU-sized: step counts are arguments and are printed with the table.

    snakemake --cores 2 results/sim/lightcurves.zarr        # the default simulated survey
    python bench/measure_classifiers.py --config config/config.yaml --store results/sim/lightcurves.zarr \
        --models astromer-tiny astromoe-tiny multiband-perband-tiny multiband-joint-tiny --folds 3
    python bench/measure_classifiers.py --config config/ztf_bts.yaml --data-root ../shared/data \
        --store results/ztf_bts/lightcurves.zarr --models astromer-tiny multiband-joint-tiny --n-per-class all
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from snakemake.utils import validate

from astroflow.train import stages

ROOT = Path(__file__).resolve().parents[1]


def load_config(path: str, data_root: str | None, results: str, args: argparse.Namespace) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    config["results"] = results
    if data_root:
        config["data_root"] = data_root
    train = config.setdefault("train", {})
    train["pretrain"] = {**train.get("pretrain", {}), "max_steps": args.pretrain_steps,
                         "eval_every": args.eval_every, "checkpoint_every": args.eval_every}
    train["finetune"] = {**train.get("finetune", {}), "max_steps": args.finetune_steps,
                         "eval_every": args.eval_every, "checkpoint_every": args.eval_every}
    train["band_sampling"] = args.band_sampling
    train["multiband_pretraining"] = args.multiband_pretraining
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def run_pretrain(config: dict, model: str, store: str, split: Path, out: Path) -> float:
    target = out / "pretrain" / model
    if not (target / "model.pt").exists():
        target.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        stages.pretrain(config, config["dataset"], model, 0, store, split, target / "model.pt",
                        target / "metrics.csv", target / "work", threads=1)
        (target / "seconds").write_text(f"{time.monotonic() - start:.1f}")
    return float((target / "seconds").read_text())


def run_finetune(config: dict, model: str, init: str, n: str, fold: int, store: str, split: Path, out: Path) -> dict:
    target = out / "finetune" / model / init / f"n{n}" / f"f{fold}"
    if not (target / "scores.json").exists():
        target.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        pretrained = None if init == "scratch" else out / "pretrain" / model / "model.pt"
        stages.finetune(config, config["dataset"], model, init, n, fold, 0, store, split, pretrained,
                        target / "model.pt", target / "split.parquet", target / "metrics.csv", target / "work",
                        threads=1)
        stages.evaluate(target / "model.pt", store, split, target / "predictions.parquet", target / "scores.json",
                        threads=1)
        scores = json.loads((target / "scores.json").read_text())
        scores["seconds"] = time.monotonic() - start
        (target / "scores.json").write_text(json.dumps(scores))
    return json.loads((target / "scores.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--data-root")
    parser.add_argument("--store", required=True)
    parser.add_argument("--out", default="results/measure_classifiers")
    parser.add_argument("--models", nargs="+", default=["astromer-tiny"])
    parser.add_argument("--inits", nargs="+", default=["pretrained", "scratch"])
    parser.add_argument("--n-per-class", nargs="+", default=["20", "100", "all"])
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--pretrain-steps", type=int, default=600)
    parser.add_argument("--finetune-steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--band-sampling", default="asynchronous")
    parser.add_argument("--multiband-pretraining", default="joint")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = load_config(args.config, args.data_root, str(out), args)
    split = out / "split.parquet"
    stages.make_split(config, args.store, split)
    runs = [(m, i, n, f) for m in args.models for i in args.inits for n in args.n_per_class for f in range(args.folds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        wanted = [m for m in args.models if any(i != "scratch" for i in args.inits)]
        pre = dict(zip(wanted, pool.map(run_pretrain, *zip(*[(config, m, args.store, split, out) for m in wanted]))))
        scores = list(pool.map(run_finetune, *zip(*[(config, m, i, n, f, args.store, split, out)
                                                     for m, i, n, f in runs])))

    print(f"{config['dataset']}: {args.pretrain_steps} pretraining steps, {args.finetune_steps} fine-tuning steps "
          f"(batch {config['train']['pretrain']['batch_size']}/{config['train']['finetune']['batch_size']}, best "
          f"validation checkpoint every {args.eval_every}), {args.folds} fold(s), band sampling {args.band_sampling}, "
          f"multiband pretraining {args.multiband_pretraining}; macro-F1 on the test split, mean +- std over folds")
    print(f"{'model':24} {'pretrain s':>10} " + " ".join(f"{i + ' n=' + n:>22}" for i in args.inits
                                                       for n in args.n_per_class))
    for m in args.models:
        cells = []
        for i in args.inits:
            for n in args.n_per_class:
                f1 = np.array([s["macro_f1"] for (rm, ri, rn, _), s in zip(runs, scores) if (rm, ri, rn) == (m, i, n)])
                cells.append(f"{f1.mean():.3f} +- {f1.std():.3f}" if len(f1) > 1 else f"{f1.mean():.3f}")
        print(f"{m:24} {pre.get(m, float('nan')):>10.0f} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
