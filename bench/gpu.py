"""The GPU path, measured in one run of under five minutes on a CUDA machine (bench/gpu.sh runs it):

1. every model family (Astromer 2, Astro-MoE, both multiband fusions, RNN and CNN on dt/dm, SwinV2 and ViT on
   light-curve images) trains a few steps through astroflow's Trainer (CUDA, bf16 autocast, fused attention);
2. pretraining throughput of the ``astromer2`` preset: windows/s of the training step alone (batches already on
   the GPU) and model FLOP utilisation against the GPU's dense bf16 peak, and windows/s of whole Trainer runs
   (DataLoader workers cutting and masking windows) so the ratio says whether the loader keeps up;
3. inference throughput of the default classifier (``astromer-tiny`` with the layer-weighted head, as the
   default workflow fine-tunes it): light curves/s of the model alone and of ``predict_proba`` end to end.

    python bench/gpu.py [--steps 5] [--batch 256] [--workers 8] [--peak-tflops 989]

The data are the embedded simulated survey (LSST bands), made in a temporary folder. Without CUDA it stops with
a message (``--smoke`` runs it on the CPU as a check of the script): the CPU figures come from the other
benchmarks.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from torch import nn

from astroflow import models
from astroflow.clean import clean
from astroflow.models.heads import Classifier, LayerWeightedHead
from astroflow.models.vision import VisionConfig
from astroflow.sources.simulate import CLASSES, simulate_survey
from astroflow.store import LightCurveStore, write_store
from astroflow.train.data import Windows
from astroflow.train.inference import predict_proba
from astroflow.train.inputs import DtDm, Images
from astroflow.train.tasks import Classification, MaskedReconstruction, Reconstructor
from astroflow.train.trainer import TrainConfig, Trainer, autocast, step_seed, to_device

FAMILIES = ["astromer2", "astromoe", "multiband-perband", "multiband-joint", "rnn", "cnn", "swinv2-tiny-w8",
            "vit-small"]
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "4090": 165.0, "A10": 125.0}


def peak_tflops(name: str, given: float | None) -> float | None:
    if given:
        return given
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def seconds(fn) -> float:
    sync = torch.cuda.synchronize if torch.cuda.is_available() else lambda: None
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def task_for(name: str, ragged, batch: int):
    """A training task for preset ``name`` on the survey: masked reconstruction for encoders, classification for
    the classifiers (dt/dm sequences or images)."""
    index = np.arange(len(ragged))
    if models.kind(name) == "encoder":
        config = models.model_config(name)
        band = None if config.n_bands else 0
        overrides = {"n_bands": len(ragged.bands)} if config.n_bands else {}
        make = lambda idx: Windows(ragged, idx, config.window, band)
        return (Reconstructor(models.build(name, **overrides)),
                MaskedReconstruction(make(index), make(index[:256]), batch))
    overrides = {"n_bands": len(ragged.bands), "n_classes": len(ragged.class_names)}
    config = models.model_config(name, **overrides)
    if isinstance(config, VisionConfig):
        image = {"layout": config.layout, "size": config.image_size}
        make = lambda idx, aug: Images(ragged, idx, image, aug, magnitudes=True)
    else:
        make = lambda idx, aug: DtDm(ragged, idx, config, aug)
    return models.build(name, **overrides), Classification(make(index, True), make(index[:128], False), batch)


def families(ragged, names: list[str], steps: int, batch: int, tmp: str) -> None:
    print(f"\n1. every family, {steps} training steps, bf16 autocast on CUDA")
    for name in names:
        torch.manual_seed(0)
        size = batch if models.kind(name) == "encoder" else 32
        model, task = task_for(name, ragged, size)
        trainer = Trainer(TrainConfig(max_steps=steps, batch_size=size, eval_every=steps, checkpoint_every=10**9,
                                      warmup_steps=1), f"{tmp}/{name}")
        took = seconds(lambda: trainer.fit(model, task))  # noqa: B023
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"   {name:22s} {params:7.1f} M parameters  {steps} steps of {size} in {took:6.2f} s  ok")


def linear_flops(model: nn.Module) -> int:
    """Multiply-adds of every Linear layer per token, times two."""
    return 2 * sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))


def pretraining(ragged, batch: int, workers: int, peak: float | None, dev: torch.device, tmp: str) -> None:
    print("\n2. astromer2 pretraining throughput (bf16)")
    config = models.model_config("astromer2")
    torch.manual_seed(0)
    model, task = task_for("astromer2", ragged, batch)
    model.to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = [to_device(task.batch(np.random.default_rng(step_seed(0, s)), s), dev)
               for s in range(4)]

    def steps(n: int) -> None:
        for s in range(n):
            with autocast(dev):
                loss, _ = task.loss(model, batches[s % 4], torch.Generator().manual_seed(s))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    steps(3)
    n = 30
    rate = n * batch / seconds(lambda: steps(n))
    t, layers, dim = config.window, config.n_layers, config.dim
    flops = 3 * (linear_flops(model) * t + 4 * layers * t * t * dim)  # forward + backward, per window
    mfu = f", MFU {rate * flops / (peak * 1e12):.1%} of {peak:.0f} TFLOPS" if peak else ""
    print(f"   training step alone:   {rate:10.0f} windows/s ({flops / 1e9:.1f} GFLOP per window{mfu})")

    def trainer_run(max_steps: int) -> float:
        torch.manual_seed(0)
        fresh, fresh_task = task_for("astromer2", ragged, batch)
        trainer = Trainer(TrainConfig(max_steps=max_steps, batch_size=batch, eval_every=10**9,
                                      checkpoint_every=10**9), f"{tmp}/a2-{max_steps}", workers=workers)
        return seconds(lambda: trainer.fit(fresh, fresh_task))

    short, long = trainer_run(5), trainer_run(45)
    whole = 40 * batch / (long - short)
    print(f"   Trainer ({workers} loader workers): {whole:10.0f} windows/s, {whole / rate:.2f} of the step alone")


def inference(ragged, batch: int, dev: torch.device) -> None:
    print("\n3. default classifier inference (astromer-tiny, layer-weighted head, bf16)")
    torch.manual_seed(0)
    encoder = models.build("astromer-tiny")
    classifier = Classifier(encoder, LayerWeightedHead(encoder.config.dim, encoder.n_hidden, len(CLASSES))).to(dev)
    classifier.eval()
    window = encoder.config.window
    windows = Windows(ragged, np.arange(len(ragged)), window, 0)
    cut = to_device(windows.random(np.arange(batch) % len(ragged), np.random.default_rng(0)), dev)

    @torch.no_grad()
    def forward(n: int) -> None:
        for _ in range(n):
            with autocast(dev):
                classifier(cut).float().softmax(-1)

    forward(3)
    alone = 20 * batch / seconds(lambda: forward(20))
    print(f"   model alone:           {alone:10.0f} windows/s (batch {batch}, window {window})")
    per_object = float(np.mean(np.maximum(1, -(-ragged.row_size // window))))  # windows per object, all bands
    predict_proba(classifier, windows, batch, dev)
    whole = len(ragged) / seconds(lambda: predict_proba(classifier, windows, batch, dev))
    print(f"   predict_proba end to end: {whole:8.0f} light curves/s ({len(ragged)} objects, about "
          f"{per_object:.1f} windows each; windows cut on the CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256, help="pretraining windows per step")
    parser.add_argument("--infer-batch", type=int, default=4096)
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers of the Trainer runs")
    parser.add_argument("--objects", type=int, default=300, help="simulated objects per class")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak (default: by GPU name)")
    parser.add_argument("--models", default=",".join(FAMILIES), help="the presets of part 1, comma-separated")
    parser.add_argument("--smoke", action="store_true", help="run on the CPU (a check of the script, no figures)")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.smoke:
        raise SystemExit("no CUDA device: the GPU benchmark has nothing to measure here (--smoke checks the script)")
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"bf16 {dev.type == 'cuda' and torch.cuda.is_bf16_supported()}")
    torch.backends.cuda.matmul.allow_tf32 = True
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cat = simulate_survey(args.objects, bands="lsst", seed=0, max_points=400)
        write_store(clean(cat)[0], f"{tmp}/s.zarr", class_names=list(CLASSES))
        ragged = LightCurveStore(f"{tmp}/s.zarr").load()
        print(f"survey: {len(ragged)} objects, {len(ragged.time)} observations ({time.perf_counter() - start:.0f} s)")
        families(ragged, args.models.split(","), args.steps, 64, tmp)
        pretraining(ragged, args.batch, args.workers, peak_tflops(name, args.peak_tflops), dev, tmp)
        inference(ragged, args.infer_batch, dev)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
