"""The model card: what a trained network is, what it reads, and what it learnt from, saved with its weights.

Every stage that uses a trained model (evaluate, encode, predict, uncertainty) rebuilds the network and its inputs
from the card alone, never from the config. In ``model.pt`` the card is a dict of plain values beside the state
dict, so ``torch.load(..., weights_only=True)`` reads it and no pickled code is ever run.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from astroflow.errors import InputError

KINDS = ("encoder", "classifier")  # what model.pt holds: a pretrained encoder, or a network giving class logits
SAMPLINGS = ("asynchronous", "synchronous")  # bands at their own times, or on epochs shared by all bands
NORMALISATIONS = ("window_mean", "none")  # encoders' windows: time and value minus the window's mean; dt/dm: none
INITS = ("pretrained", "frozen", "scratch")  # fine-tuning of a pretrained encoder, the encoder kept fixed, or none
HEADS = ("layers", "mean")  # an encoder's head: Astromer 2's layer-weighted average, or the last layer's mean
PRETRAININGS = ("joint", "independent")  # a per-band multiband encoder: all of it at once, or band encoder alone
OPTIONAL = ("init", "head", "pretraining")  # fields a pretrained encoder or a classifier may leave unset
CARD_KEY, STATE_KEY = "card", "state"  # the two entries of a model.pt


@dataclass
class ModelCard:
    """One trained network: its preset and settings, the data it reads and how, and where it came from."""

    # architecture
    model: str  # preset name (astroflow.models.names())
    architecture: str  # the class the preset builds (Astromer, PerBandFusion, DtDmGRU, ImageClassifier, ...)
    kind: str  # one of KINDS
    overrides: dict  # the preset's settings changed for this model, with n_bands / n_classes from the data
    # data
    bands: list[str]  # the training store's bands, in band-code order
    quantity: str  # mag or flux
    class_names: list[str] = field(default_factory=list)  # empty for a pretrained encoder
    # input representation: what astroflow.train.inputs.model_inputs draws for the model
    band: int | None = None  # band code a single-band encoder reads; None: all bands
    bands_apart: bool = False  # a single-band encoder reading every band as a light curve of its own
    window: int | None = None  # observations per window (encoders)
    normalisation: str = "none"  # one of NORMALISATIONS (image models normalise inside the network)
    band_sampling: str = "asynchronous"  # one of SAMPLINGS (multiband encoders)
    sync_tolerance: float | None = None  # days, with synchronous sampling
    image: dict | None = None  # render_lightcurves settings of image models (layout and size the preset's)
    feature_norm: dict | None = None  # light-curve features read: columns, and their training mean and std
    # training
    pretraining: str | None = None  # one of PRETRAININGS (per-band multiband encoders)
    init: str | None = None  # one of INITS (classifiers)
    n_per_class: str | None = None  # labelled objects per class, or "all"
    fold: int | None = None
    seed: int | None = None
    head: str | None = None  # one of HEADS (an encoder's classification head)
    head_hidden: list[int] = field(default_factory=list)
    freeze_encoder: bool = False
    # provenance
    clean: dict = field(default_factory=dict)  # the cleaning the training store went through (CleanConfig fields)
    reader: dict = field(default_factory=dict)  # the training store's format and reader options ({} if simulated)
    config_hash: str = ""  # of the training settings (astroflow.provenance.config_hash)
    data: dict[str, str] = field(default_factory=dict)  # sha256 of what it learnt from: store, split, start weights
    train_seconds: float | None = None  # wall time of its training (of a classifier: not its encoder's pretraining)
    pretrained_on: dict[str, str] = field(default_factory=dict)  # data sets the encoder was pretrained on: sha256

    def __post_init__(self):
        for name, value, allowed in (("kind", self.kind, KINDS), ("band_sampling", self.band_sampling, SAMPLINGS),
                                     ("normalisation", self.normalisation, NORMALISATIONS),
                                     ("init", self.init, INITS), ("head", self.head, HEADS),
                                     ("pretraining", self.pretraining, PRETRAININGS)):
            if value not in allowed and not (value is None and name in OPTIONAL):
                raise ValueError(f"model card {name} {value!r} is not one of {allowed}")

    def to_dict(self) -> dict:
        """Plain values only (for torch.save with weights_only loading, and JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str | Path = "model card") -> ModelCard:
        """The card of ``values``; a key it does not know, a missing one or a bad value names ``source``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(source, f"model card has unknown fields {unknown} (fields: {sorted(known)})")
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise InputError(source, f"model card is not valid: {error}") from error


def save(path: str | Path, state: dict, card: ModelCard) -> None:
    """Write a state dict and its card to ``path`` (model.pt)."""
    import torch

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({CARD_KEY: card.to_dict(), STATE_KEY: state}, path)


def load(path: str | Path) -> tuple[dict, ModelCard]:
    """The state dict and card of a model.pt, read with weights_only=True; anything else is a clear error."""
    import pickle
    import struct

    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        values, state = saved[CARD_KEY], saved[STATE_KEY]
    except (pickle.UnpicklingError, struct.error, EOFError, RuntimeError, KeyError, TypeError) as error:
        raise InputError(path, "is not an astroflow PyTorch model (model.pt of a pretrain or finetune run; the "
                         f"forest's model file is scored by its own rules) ({type(error).__name__})") from error
    return state, ModelCard.from_dict(values, path)
