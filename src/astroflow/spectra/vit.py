"""Spectromer (arXiv:2506.00294): a timm Vision Transformer on spectrum images, with one linear head giving the
class and subclass logits and the regression outputs (redshift; Teff, log g, [Fe/H]).

The backbone is astroflow.models.vision.ImageClassifier (uint8 images in, normalised inside with the weights' own
statistics), so pretrained weights load from a local file exactly as for the light-curve image models. The paper
fine-tunes a DINO ViT-B/16 at 224x224 (preset ``spectromer-base``); ``spectromer-micro`` is the CPU-sized default.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from astroflow.models.vision import ImageClassifier, VisionConfig


@dataclass
class SpectromerConfig:
    architecture: str = "vit_base_patch16_224"
    image_size: int = 224
    kind: str = "segments"  # spectrum drawing (represent/spectrum_images.py KINDS)
    line_width: float = 1.0  # pixels
    rows: int = 4  # bands of kind "rows"
    clip: float = 0.0  # flux scale from this percentile to 100 - clip (0: min to max)
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    patch_size: int | None = None
    drop_path_rate: float = 0.1
    n_outputs: int = 1


class Spectromer(nn.Module):
    """(B, H, W, 3) uint8 spectrum images -> (B, n_outputs)."""

    input = "image"

    def __init__(self, config: SpectromerConfig):
        super().__init__()
        self.config = config
        self.net = ImageClassifier(VisionConfig(
            config.architecture, config.image_size, embed_dim=config.embed_dim, depth=config.depth,
            num_heads=config.num_heads, patch_size=config.patch_size, drop_path_rate=config.drop_path_rate,
            n_classes=config.n_outputs))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.net(batch)

    def param_groups(self, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
        return self.net.param_groups(weight_decay, layer_decay)


PRESETS = {
    # The spectrum wrapped into 8 bands of 8 pixels, one row of patches each: 512 columns of the 4648-pixel grid.
    "spectromer-micro": SpectromerConfig("vit_tiny_patch16_224", image_size=64, embed_dim=64, depth=3, num_heads=2,
                                         patch_size=8, drop_path_rate=0.0, kind="rows", rows=8, clip=1.0,
                                         line_width=2.0),
    "spectromer-tiny": SpectromerConfig("vit_tiny_patch16_224"),
    "spectromer-base": SpectromerConfig("vit_base_patch16_224"),
}


