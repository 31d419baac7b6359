"""Training of the spectrum models on one split: the networks (Spectromer ViT, 1-D CNN) with the shared trainer,
and the random forest and SVM baselines, all on the same train / validation / test objects."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import xarray as xr
from torch import Tensor, nn

from astroflow.errors import InputError
from astroflow.models.card import CARD_KEY, STATE_KEY
from astroflow.provenance import config_hash, sha256_file, sha256_tree
from astroflow.spectra import inputs
from astroflow.spectra.models import BASELINES, NETWORKS, SpectrumCard, build, network_settings
from astroflow.spectra.store import open_store, text
from astroflow.train.trainer import Batch, TrainConfig, Trainer, model_device, to_device, use_threads

log = logging.getLogger("astroflow.spectra")


@dataclass
class SpectraTrainConfig(TrainConfig):
    """Optimisation (the trainer's settings, with defaults sized for the spectra) and what is predicted."""

    max_steps: int = 400
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 30
    patience: int = 0
    regression: list[str] = field(default_factory=lambda: ["z", "teff", "logg", "feh"])
    log1p_z: bool = True  # regress log(1 + z) rather than z
    regression_weight: float = 1.0  # weight of the regression loss beside the two cross-entropies
    augment_copies: int = 0  # networks: noisy copies of every training spectrum (inputs._arrays) batches also draw
    features_bin: int = 8  # baselines: pixels averaged per feature
    forest_trees: int = 100
    svm_c: float = 10.0
    model_overrides: dict = field(default_factory=dict)
    image_weights: dict = field(default_factory=dict)  # Spectromer preset -> local pretrained weights file


def split(store: str | Path, out: str | Path, seed: int, test_fraction: float, validation_fraction: float) -> None:
    """The ``spectra_split`` stage: every object to train, validation or test, stratified by subclass family."""
    ds = open_store(store)
    family = [f"{c}:{inputs.family(c, s)}" for c, s in zip(text(ds, "class"),
                                                            text(ds, "subclass"))]
    rng = np.random.default_rng(seed)
    assignment = np.full(len(family), "train", dtype=object)
    for group in sorted(set(family)):
        rows = rng.permutation(np.flatnonzero(np.asarray(family) == group))
        n_test = round(test_fraction * len(rows))
        n_val = round(validation_fraction * (len(rows) - n_test))
        assignment[rows[:n_test]] = "test"
        assignment[rows[n_test:n_test + n_val]] = "validation"
    pd.DataFrame({"object_id": text(ds, "object_id"), "split": assignment}).to_parquet(out, index=False)


def read_split(ds: xr.Dataset, path: str | Path) -> pd.Series:
    table = pd.read_parquet(path)
    ids = text(ds, "object_id")
    if len(table) != len(ids) or (table["object_id"].to_numpy(dtype=str) != ids).any():
        raise InputError(path, "the split does not list the store's objects in order: remake it")
    return table["split"]


def label_names(ds: xr.Dataset, rows: np.ndarray) -> tuple[list[str], list[str]]:
    """Class and subclass-family names of the training objects (sorted)."""
    spec_class = text(ds, "class")[rows]
    sub = [inputs.family(c, s) for c, s in zip(spec_class, text(ds, "subclass")[rows])]
    return sorted(map(str, set(spec_class))), sorted(map(str, set(sub)))


def model_inputs(ds: xr.Dataset, card: SpectrumCard, rows: np.ndarray,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """What the card's model reads for objects ``rows`` (networks: noisy copies with ``rng``)."""
    if card.model in BASELINES:
        return inputs.features(ds, rows, card.features_bin)
    if input_key(card) == "image":
        return inputs.images(ds, rows, **inputs.drawing(card.settings), rng=rng)
    return inputs.vectors(ds, rows, rng)


def input_key(card: SpectrumCard) -> str:
    return "image" if "kind" in card.settings else "vector"


def make_card(name: str, ds: xr.Dataset, train_rows: np.ndarray, config: SpectraTrainConfig, seed: int,
              store: str | Path, split_path: str | Path) -> SpectrumCard:
    classes, subclasses = label_names(ds, train_rows)
    targets = inputs.targets(ds.isel(object=train_rows), classes, subclasses, config.regression, config.log1p_z)
    mean = np.nanmean(targets["regression"], axis=0) if len(config.regression) else np.zeros(0)
    std = np.nanstd(targets["regression"], axis=0) if len(config.regression) else np.zeros(0)
    n_out = len(classes) + len(subclasses) + len(config.regression)
    settings = (network_settings(name, config.model_overrides.get(name, {}), n_out) if name in NETWORKS
                else {"trees": config.forest_trees} if name == "forest" else {"C": config.svm_c})
    return SpectrumCard(
        model=name, settings=settings, classes=classes, subclasses=subclasses, regression=list(config.regression),
        log1p_z=config.log1p_z, target_mean=np.nan_to_num(mean).tolist(),
        target_std=np.where(np.nan_to_num(std) > 0, np.nan_to_num(std), 1.0).tolist(),
        grid=list(ds.attrs["grid"]), frame=ds.attrs["frame"], features_bin=config.features_bin, seed=seed,
        config_hash=config_hash(asdict(config)),
        data={"store": sha256_tree(store), "split": sha256_file(split_path)})


class SpectraTask:
    """A step: class and subclass cross-entropy plus the masked mean squared error of the standardised regression
    targets, on a random batch of training objects, each in a random one of its copies ``x`` (copies, objects, ...);
    validation is the same loss on the validation objects as they are (copy 0)."""

    monitor = "loss"

    def __init__(self, x: np.ndarray, targets: dict, train: np.ndarray, validation: np.ndarray, card: SpectrumCard,
                 batch_size: int, regression_weight: float):
        self.x, self.train, self.validation = x, train, validation
        self.key = input_key(card)
        self.sizes = [len(card.classes), len(card.subclasses), len(card.regression)]
        mean, std = np.asarray(card.target_mean, np.float32), np.asarray(card.target_std, np.float32)
        self.targets = {**targets, "regression": (targets["regression"] - mean) / std}
        self.batch_size, self.weight = batch_size, regression_weight

    def _rows(self, rows: np.ndarray, copies: np.ndarray | int = 0) -> dict[str, np.ndarray]:
        return {self.key: self.x[copies, rows], **{k: v[rows] for k, v in self.targets.items()}}

    def batch(self, rng: np.random.Generator, step: int) -> dict[str, np.ndarray]:
        return self._rows(rng.choice(self.train, self.batch_size), rng.integers(len(self.x), size=self.batch_size))

    def _losses(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        class_logits, sub_logits, regression = model(batch).float().split(self.sizes, dim=1)
        class_loss = F.cross_entropy(class_logits, batch["class"], ignore_index=-1)
        sub_loss = F.cross_entropy(sub_logits, batch["subclass"], ignore_index=-1)
        known = torch.isfinite(batch["regression"])
        error = torch.where(known, regression - torch.nan_to_num(batch["regression"]), 0.0)
        reg_loss = (error ** 2).sum() / known.sum().clamp(min=1)
        loss = class_loss + sub_loss + self.weight * reg_loss
        accuracy = (class_logits.argmax(1) == batch["class"]).float().mean()
        return loss, {"class_loss": class_loss.item(), "subclass_loss": sub_loss.item(),
                      "regression_loss": reg_loss.item(), "accuracy": accuracy.item()}

    def loss(self, model: nn.Module, batch: Batch, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        return self._losses(model, batch)

    def validate(self, model: nn.Module) -> dict[str, float]:
        totals: dict[str, float] = {}
        for start in range(0, len(self.validation), 256):
            rows = self.validation[start:start + 256]
            loss, metrics = self._losses(model, to_device(self._rows(rows), model_device(model)))
            for k, v in {"loss": float(loss), **metrics}.items():
                totals[k] = totals.get(k, 0.0) + v * len(rows)
        return {k: v / max(len(self.validation), 1) for k, v in totals.items()}


def train(name: str, seed: int, store: str | Path, split_path: str | Path, out_model: str | Path,
          out_metrics: str | Path, workdir: str | Path, settings: dict, threads: int | None = None) -> None:
    """The ``spectra_train`` stage: network ``name`` trained with seed ``seed``; weights and card to
    ``out_model`` (model.pt), training curve to ``out_metrics``; baselines fitted and saved with joblib."""
    use_threads(threads)
    config = SpectraTrainConfig(**settings)
    ds = open_store(store)
    assignment = read_split(ds, split_path)
    train_rows = np.flatnonzero(assignment == "train")
    val_rows = np.flatnonzero(assignment == "validation")
    card = make_card(name, ds, train_rows, config, seed, store, split_path)
    if name in BASELINES:
        return fit_baseline(card, ds, train_rows, out_model, out_metrics, threads)
    rows = np.concatenate([train_rows, val_rows])
    x = np.empty((1 + config.augment_copies, len(ds["object_id"]), *model_inputs(ds, card, rows[:1]).shape[1:]),
                 dtype=np.uint8 if input_key(card) == "image" else np.float32)
    x[0, rows] = model_inputs(ds, card, rows)
    noise = np.random.default_rng([seed, 1])
    for copy in x[1:]:
        copy[train_rows] = model_inputs(ds, card, train_rows, noise)
    task = SpectraTask(x, inputs.targets(ds, card.classes, card.subclasses, card.regression, card.log1p_z),
                       train_rows, val_rows, card, config.batch_size, config.regression_weight)
    torch.manual_seed(seed)
    model = build(card)
    if config.image_weights.get(name):
        from astroflow.models.vision import load_pretrained

        load_pretrained(model.net, config.image_weights[name])
    optimisation = {f.name: getattr(config, f.name) for f in fields(TrainConfig)}
    trainer = Trainer(TrainConfig(**optimisation | {"checkpoint_every": config.eval_every, "seed": seed}), workdir,
                      run_id=card.config_hash + name, name=f"{name} s{seed}")
    trainer.fit(model, task)
    Path(out_model).parent.mkdir(parents=True, exist_ok=True)
    torch.save({CARD_KEY: card.to_dict(), STATE_KEY: model.state_dict()}, out_model)
    Path(out_metrics).write_bytes(trainer.metrics_path.read_bytes())


def fit_baseline(card: SpectrumCard, ds: xr.Dataset, rows: np.ndarray, out_model: str | Path,
                 out_metrics: str | Path, threads: int | None) -> None:
    """Random forest or RBF SVM (standardised features) for class and subclass, and a regressor per target."""
    import joblib
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    x = inputs.features(ds, rows, card.features_bin)
    y = inputs.targets(ds.isel(object=rows), card.classes, card.subclasses, card.regression, card.log1p_z)

    def classifier():
        if card.model == "forest":
            return RandomForestClassifier(card.settings["trees"], class_weight="balanced", n_jobs=threads or 1,
                                          random_state=card.seed)
        return make_pipeline(StandardScaler(), SVC(C=card.settings["C"], probability=True, random_state=card.seed))

    def regressor():
        if card.model == "forest":
            return RandomForestRegressor(card.settings["trees"], max_features="sqrt", n_jobs=threads or 1,
                                         random_state=card.seed)
        return make_pipeline(StandardScaler(), SVR(C=card.settings["C"]))

    fitted = {"class": classifier().fit(x, y["class"]),
              "subclass": classifier().fit(x[y["subclass"] >= 0], y["subclass"][y["subclass"] >= 0])}
    for i, target in enumerate(card.regression):
        known = np.isfinite(y["regression"][:, i])
        scaled = (y["regression"][known, i] - card.target_mean[i]) / card.target_std[i]
        fitted[target] = regressor().fit(x[known], scaled)
    joblib.dump({"card": card.to_dict(), "models": fitted}, out_model)
    pd.DataFrame({"step": [0], "train_objects": [len(rows)]}).to_csv(out_metrics, index=False)
