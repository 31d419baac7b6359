"""Image classifiers from timm (SwinV2, ViT) on light-curve images (arXiv:2502.20479).

The model takes the uint8 images the renderer draws (represent/images.py) and normalises them itself with the mean
and standard deviation of its architecture's pretrained weights (ImageNet statistics), so bytes travel to the
device and a pretrained backbone sees the input statistics it was trained on. Weights come from a local file
(safetensors or a timm / torch checkpoint) or the Hugging Face hub through timm's own loader, which resizes
position embeddings and patch embeddings to the image size and drops a classifier head of another class count.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor, nn

from astroflow.errors import ConfigError, DownloadError
from astroflow.models.layers import FeatureBranch
from astroflow.represent.images import LAYOUTS

log = logging.getLogger(__name__)


def _timm():
    """timm, imported on first use: with torchvision it takes seconds to import, which every job of a
    non-image model would otherwise pay."""
    import timm
    import timm.optim

    return timm
PRETRAINED_KEY = "train.image_weights"  # the config key load_pretrained's errors name


@dataclass
class VisionConfig:
    """A timm architecture and the sizes that shrink it (None keeps the architecture's own), the image it reads."""

    architecture: str = "swinv2_tiny_window8_256"
    image_size: int = 256
    layout: str = "overlay"  # how the light curve is drawn (represent/images.py); the input source reads it
    embed_dim: int | None = None
    depths: tuple[int, ...] | None = None  # SwinV2: blocks per stage
    depth: int | None = None  # ViT: blocks
    num_heads: int | tuple[int, ...] | None = None  # ViT: one count; SwinV2: one per stage
    window_size: int | None = None  # SwinV2
    patch_size: int | None = None
    drop_path_rate: float = 0.1
    n_classes: int = 0
    n_bands: int = 1  # drawn by the renderer; the model reads any image
    features: str = "none"  # light-curve features also read (train/tabular.py): none, period or all
    n_features: int = 0  # their count, filled in from the data


def timm_kwargs(config: VisionConfig) -> dict:
    """The keyword arguments of ``timm.create_model`` that the config sets."""
    sizes = {name: getattr(config, name) for name in ("embed_dim", "depth", "window_size", "patch_size")}
    sizes["depths"] = tuple(config.depths) if config.depths is not None else None
    sizes["num_heads"] = tuple(config.num_heads) if isinstance(config.num_heads, list) else config.num_heads
    return {"img_size": config.image_size, "drop_path_rate": config.drop_path_rate,
            **{k: v for k, v in sizes.items() if v is not None}}


def create(config: VisionConfig, **kwargs) -> nn.Module:
    """The timm model of ``config`` with a head of ``config.n_classes`` outputs (``kwargs`` go to timm)."""
    if config.layout not in LAYOUTS:
        raise ConfigError("model.layout", f"{config.layout!r} is not one of {LAYOUTS}")
    if config.n_classes < 1:
        raise ConfigError("model.n_classes", f"an image classifier needs at least one class, not {config.n_classes}")
    timm = _timm()
    if not timm.is_model(config.architecture):
        raise ConfigError("model.architecture", f"{config.architecture!r} is not a timm architecture")
    return timm.create_model(config.architecture, num_classes=config.n_classes, **timm_kwargs(config), **kwargs)


class ImageClassifier(nn.Module):
    """A timm backbone and head on (B, H, W, 3) uint8 images; returns logits (B, n_classes). With ``n_features``
    the backbone's pooled features and a FeatureBranch of the object's light-curve features go through one linear
    layer to the logits instead of the backbone's own head."""

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.config = config
        self.backbone = create(config, pretrained=False)
        data = self.backbone.pretrained_cfg
        # Not saved with the weights: they follow from the architecture.
        self.register_buffer("mean", 255 * torch.tensor(data["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", 255 * torch.tensor(data["std"]).view(1, 3, 1, 1), persistent=False)
        self.extra = FeatureBranch(config.n_features) if config.n_features else None
        if self.extra is not None:
            self.joint = nn.Linear(self.backbone.num_features + self.extra.width, config.n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        image = batch["image"]
        size = self.config.image_size
        if image.shape[1:] != (size, size, 3):
            raise ValueError(f"images of shape {tuple(image.shape[1:])}, the model reads ({size}, {size}, 3)")
        x = (image.permute(0, 3, 1, 2).float() - self.mean) / self.std
        if self.extra is None:
            return self.backbone(x)
        pooled = self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True)
        return self.joint(torch.cat((pooled, self.extra(batch["features"])), dim=-1))

    def param_groups(self, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
        """Optimizer parameter groups, each with ``lr_scale`` (the factor on the learning rate): no weight decay
        on biases, norms and position tables; with ``layer_decay`` < 1 each block's rate is ``layer_decay``
        times that of the block above it (BEiT-style layer-wise decay, timm's grouping)."""
        optim = _timm().optim
        skip = self.backbone.no_weight_decay()
        own = [] if self.extra is None else [{"params": [*self.extra.parameters(), *self.joint.parameters()],
                                               "lr_scale": 1.0}]
        if layer_decay == 1.0:
            groups = optim.param_groups_weight_decay(self.backbone, weight_decay, no_weight_decay_list=skip)
            return [{**group, "lr_scale": 1.0} for group in groups] + own
        return optim.param_groups_layer_decay(self.backbone, weight_decay, no_weight_decay_list=skip,
                                        layer_decay=layer_decay) + own


def read_weights(path: Path) -> dict[str, Tensor]:
    """The state dict in a safetensors file or a torch checkpoint (loaded with weights_only=True; a ``state_dict``
    or ``model`` entry is unwrapped, a ``module.`` prefix dropped, and the ``backbone.`` prefix of an
    ImageClassifier's own checkpoint, e.g. the trainer's, so a model trained elsewhere can start another)."""
    if not path.is_file():
        raise ConfigError(PRETRAINED_KEY, f"weights file {path} does not exist: give the path of a safetensors or "
                                          "timm checkpoint file, or 'hub' (needs a network); models not named there "
                                          "train from scratch")
    try:
        state = _timm().models.load_state_dict(str(path), weights_only=True)
    except Exception as error:  # torch.load raises whatever its unpickler meets in a damaged file
        raise ConfigError(PRETRAINED_KEY, f"weights file {path} is neither a safetensors file nor a torch "
                                          f"checkpoint of a state dict ({error})") from error
    return {k.removeprefix("backbone."): v for k, v in state.items()}


def timm_names(state: dict[str, Tensor], model: nn.Module) -> set[str]:
    """The names of ``state``'s weights once timm has loaded them into ``model``: the architecture's checkpoint
    filter renames other releases' names (e.g. Microsoft's SwinV2 checkpoints) as it loads them."""
    convert = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    return set(convert(dict(state), model) if convert else state)


def load_pretrained(model: ImageClassifier, source: str | Path) -> None:
    """Load pretrained weights into ``model`` from a local file or, for ``"hub"``, timm's hub weights (a network
    or a filled cache is needed). A file never reaches the network. Weights the source lacks, and the classifier
    head when its class count differs from the model's, keep the model's own initialisation."""
    config = model.config
    from_hub = str(source) == "hub"
    state = None if from_hub else read_weights(Path(source))
    where = "the timm hub weights" if from_hub else f"weights file {source}"
    try:
        donor = create(config, pretrained=True, pretrained_cfg_overlay={} if from_hub else {"state_dict": state})
    except OSError as error:  # only the hub reads files or the network here
        raise DownloadError(f"cannot fetch the hub weights of {config.architecture} ({error}); give a local "
                            "weights file on machines without a network") from error
    except RuntimeError as error:  # a tensor of another shape
        raise ConfigError(PRETRAINED_KEY, f"{where} does not fit {config.architecture} with this config "
                                          f"({error})") from error
    weights = donor.state_dict()
    heads = donor.pretrained_cfg.get("classifier") or ()
    heads = (heads,) if isinstance(heads, str) else heads
    dropped = config.n_classes != donor.pretrained_cfg["num_classes"]
    given = None if state is None else timm_names(state, donor)
    left_out = [k for k in weights
                if (dropped and k.rpartition(".")[0] in heads) or (given is not None and k not in given)]
    loaded = {k: v for k, v in weights.items() if k not in left_out}
    if not loaded:
        raise ConfigError(PRETRAINED_KEY, f"{where} holds none of the weights of {config.architecture}")
    model.backbone.load_state_dict(loaded, strict=False)
    log.info("loaded %d of %d weights of %s from %s; kept the model's own for %s", len(loaded), len(weights),
             config.architecture, where, ", ".join(left_out) or "none")


def _presets() -> dict[str, VisionConfig]:
    """Every architecture in every layout: ``name`` (overlay), ``name-stacked``, ``name-grid``. The micro ones are
    small enough to train a few hundred steps on two CPU cores in minutes (tests and CI runs)."""
    bases = {
        "swinv2-tiny-w8": VisionConfig("swinv2_tiny_window8_256"),
        "swinv2-tiny-w16": VisionConfig("swinv2_tiny_window16_256"),
        "vit-small": VisionConfig("vit_small_patch16_224"),
        "vit-tiny": VisionConfig("vit_tiny_patch16_224"),
        "swinv2-micro": VisionConfig("swinv2_tiny_window8_256", image_size=64, embed_dim=24, depths=(1, 1),
                                     num_heads=(2, 4), window_size=4, patch_size=4, drop_path_rate=0.0),
        "vit-micro": VisionConfig("vit_tiny_patch16_224", image_size=64, embed_dim=48, depth=2, num_heads=3,
                                  patch_size=8, drop_path_rate=0.0),
    }
    return {name + ("" if layout == "overlay" else f"-{layout}"): replace(base, layout=layout)
            for name, base in bases.items() for layout in LAYOUTS}


PRESETS: dict[str, VisionConfig] = _presets()
