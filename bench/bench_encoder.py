"""Training throughput of the Astromer encoder against torch.nn.TransformerEncoder of the same size.

Forward + backward (masked reconstruction loss) on windows of the ``astromer2`` preset (6 layers, 4 heads x 64,
d=256, feed-forward 256, window 200), with a fifth of the points padding. The reference gets the same input
embedding and output layer, and pre-norm GELU layers, so only the transformer stack differs. Runs alternate
between the two models so that a busy machine slows both alike.

    python bench/bench_encoder.py [--preset astromer2] [--batch 32] [--steps 5] [--device cpu] [--threads N]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from astroflow import models
from astroflow.models.astromer import InputEmbedding, ReconstructionHead
from astroflow.models.layers import count_parameters
from astroflow.models.masking import mask_batch, masked_rmse


class Reference(nn.Module):
    """The same embedding and head around torch.nn.TransformerEncoder."""

    def __init__(self, config):
        super().__init__()
        self.embed = InputEmbedding(config)
        layer = nn.TransformerEncoderLayer(config.dim, config.heads, config.ff_dim, config.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.head = ReconstructionHead(config.dim)

    def forward(self, batch):
        return self.head(self.encoder(self.embed(batch), src_key_padding_mask=~batch["mask"]))


def windows(batch_size: int, length: int, device: str) -> dict:
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(int(0.6 * length), length + 1, (batch_size,), generator=g)
    mask = torch.arange(length)[None] < lengths[:, None]
    time_ = torch.cumsum(torch.rand(batch_size, length, generator=g) * 2, 1) * mask
    batch = {"time": time_ - time_.mean(1, keepdim=True), "value": torch.randn(batch_size, length, generator=g) * mask,
             "error": torch.full((batch_size, length), 0.05), "mask": mask}
    batch = mask_batch(batch, g)
    return {k: v.to(device) for k, v in batch.items()}


def step(model, batch, predict) -> None:
    model.zero_grad(set_to_none=True)
    masked_rmse(predict(model, batch), batch["target"], batch["probed"]).backward()
    if batch["mask"].is_cuda:
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="astromer2")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = models.model_config(args.preset)
    ours = models.build(args.preset).to(args.device).train()
    reference = Reference(config).to(args.device).train()
    batch = windows(args.batch, config.window, args.device)
    runs = {"astroflow": (ours, lambda m, b: m.reconstruct(m(b), b)), "nn.TransformerEncoder": (reference, Reference.__call__)}
    seconds = dict.fromkeys(runs, 0.0)
    for model, predict in runs.values():  # warm-up
        step(model, batch, predict)
    for _ in range(args.steps):
        for name, (model, predict) in runs.items():
            start = time.perf_counter()
            step(model, batch, predict)
            seconds[name] += time.perf_counter() - start

    print(f"{args.preset}: batch {args.batch} x {config.window} points, {args.steps} steps on {args.device} "
          f"({torch.get_num_threads()} threads)")
    rates = {}
    for name, (model, _) in runs.items():
        rates[name] = args.batch * args.steps / seconds[name]
        print(f"  {name:22s} {count_parameters(model):>9,d} parameters  {rates[name]:8.1f} windows/s (fwd+bwd)")
    print(f"  ratio astroflow / nn.TransformerEncoder: {rates['astroflow'] / rates['nn.TransformerEncoder']:.2f}")


if __name__ == "__main__":
    main()
