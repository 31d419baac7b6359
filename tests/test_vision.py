"""Image classifiers (timm SwinV2 / ViT) and their image input source: shapes, overfitting, augmentation, weights."""
import os
import re

os.environ["HF_HUB_OFFLINE"] = "1"  # before timm imports huggingface_hub: nothing here may reach the hub

from dataclasses import replace

import numpy as np
import pytest
import safetensors.torch
import timm
import torch
import torch.nn.functional as F

from astroflow.errors import ConfigError
from astroflow.models.vision import PRESETS, ImageClassifier, load_pretrained, timm_kwargs
from astroflow.ragged import Ragged
from astroflow.train.inference import predict_proba
from astroflow.train.inputs import Images, plot_augment
from astroflow.train.tasks import Classification
from astroflow.train.trainer import TrainConfig, Trainer

SIZE = 32


def micro(name: str, n_classes: int = 2, **overrides) -> ImageClassifier:
    torch.manual_seed(0)
    return ImageClassifier(replace(PRESETS[name], n_classes=n_classes, image_size=SIZE, **overrides))


def light_curves(n_objects: int = 8, n_points: int = 30, seed: int = 0) -> Ragged:
    """Two bands; label 0 a rising straight line, label 1 a sinusoid, so one image tells them apart."""
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(0, 100, (n_objects, n_points)), axis=1)
    label = np.arange(n_objects) % 2
    value = np.where(label[:, None] == 0, time / 20, np.sin(time / 5)) + rng.normal(0, 0.05, time.shape)
    return Ragged(time=time.ravel(), value=value.ravel().astype(np.float32),
                  error=np.full(time.size, 0.05, dtype=np.float32), band=np.tile(np.arange(n_points) % 2, n_objects),
                  row_size=np.full(n_objects, n_points), label=label, bands=["g", "r"])


def test_presets_cover_every_architecture_in_every_layout():
    for base in ("swinv2-tiny-w8", "swinv2-tiny-w16", "vit-small", "swinv2-micro", "vit-micro"):
        assert [PRESETS[base + s].layout for s in ("", "-stacked", "-grid")] == ["overlay", "stacked", "grid"]
    assert PRESETS["swinv2-tiny-w16"].architecture == "swinv2_tiny_window16_256"
    assert timm_kwargs(PRESETS["vit-micro"])["depth"] == 2


@pytest.mark.parametrize("layout", ["overlay", "stacked", "grid"])
@pytest.mark.parametrize("name", ["swinv2-micro", "vit-micro"])
def test_forward_gives_logits_for_every_layout(name, layout):
    model = micro(f"{name}-{layout}" if layout != "overlay" else name, n_classes=3)
    batch = Images(light_curves(4), np.arange(4), {"layout": model.config.layout, "size": SIZE}).all()
    assert batch["image"].shape == (4, SIZE, SIZE, 3) and batch["image"].dtype == np.uint8
    logits = model({"image": torch.from_numpy(batch["image"])})
    assert logits.shape == (4, 3) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="model reads"):
        model({"image": torch.zeros(1, SIZE + 8, SIZE + 8, 3, dtype=torch.uint8)})


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="layout"):
        micro("vit-micro", layout="diagonal")
    with pytest.raises(ConfigError, match="architecture"):
        micro("vit-micro", architecture="no_such_net")
    with pytest.raises(ConfigError, match="n_classes"):
        micro("vit-micro", n_classes=0)


@pytest.mark.parametrize("name", ["swinv2-micro", "vit-micro"])
def test_micro_models_overfit_a_tiny_batch(name):
    model = micro(name)
    batch = Images(light_curves(8), np.arange(8), {"size": SIZE}).all()
    image, label = torch.from_numpy(batch["image"]), torch.from_numpy(batch["label"])
    groups = model.param_groups(weight_decay=0.0)
    assert {g["lr_scale"] for g in groups} == {1.0}
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(model({"image": image}), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    assert losses[-1] < 0.2 * losses[0]
    assert (model({"image": image}).argmax(dim=1) == label).all()


def test_layer_decay_scales_lower_blocks_less():
    model = micro("vit-micro")
    groups = model.param_groups(weight_decay=0.05, layer_decay=0.5)
    scales = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    assert scales[id(model.backbone.head.weight)] == 1.0
    assert scales[id(model.backbone.blocks[1].mlp.fc1.weight)] == 0.5
    assert scales[id(model.backbone.patch_embed.proj.weight)] < 0.5
    decay = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert decay[id(model.backbone.pos_embed)] == 0.0 and decay[id(model.backbone.head.weight)] == 0.05
    assert len(scales) == sum(1 for _ in model.parameters())


def test_images_random_is_reproducible_and_augmented_all_is_deterministic():
    source = Images(light_curves(6), np.arange(1, 6), {"layout": "stacked", "size": SIZE}, augment=True)
    rows = np.array([0, 2, 2, 4])
    first = source.random(rows, np.random.default_rng(7))
    again = source.random(rows, np.random.default_rng(7))
    other = source.random(rows, np.random.default_rng(8))
    plain = source.all(rows)
    assert np.array_equal(first["image"], again["image"]) and not np.array_equal(first["image"], other["image"])
    assert not np.array_equal(first["image"], plain["image"])
    assert np.array_equal(plain["image"], source.all(rows)["image"])
    assert list(first["index"]) == [1, 3, 3, 5] == list(plain["index"])
    assert list(first["label"]) == [1, 1, 1, 1] and first["label"].dtype == np.int64
    unaugmented = Images(source.ragged, source.index, {"layout": "stacked", "size": SIZE}, augment=False)
    assert np.array_equal(unaugmented.random(rows, np.random.default_rng(7))["image"], plain["image"])
    assert source.all()["image"].shape == (5, SIZE, SIZE, 3)


def test_plot_augment_keeps_time_order_and_at_least_two_points():
    curves = light_curves(5, 30)
    short = Ragged(time=np.array([1.0, 2.0, 5.0]), value=np.ones(3, np.float32), error=np.ones(3, np.float32),
                   band=np.zeros(3, np.int64), row_size=[0, 1, 2])
    for seed in range(20):
        rng = np.random.default_rng(seed)
        out = plot_augment(curves, rng, drop=0.95, crop=1.0, min_span=0.01)
        assert (out.row_size >= 2).all() and (out.row_size <= 30).all()
        for i in range(len(out)):
            assert (np.diff(out.object(i)["time"]) >= 0).all()
        assert list(plot_augment(short, rng, drop=0.95).row_size) == [0, 1, 2]
    kept = plot_augment(curves, np.random.default_rng(0), drop=0.0, crop=0.0, jitter=0.0)
    assert np.array_equal(kept.value, curves.value) and np.array_equal(kept.time, curves.time)


def test_images_refuse_unknown_settings():
    with pytest.raises(ConfigError, match="image.colour_map"):
        Images(light_curves(2), np.arange(2), {"colour_map": "viridis"})


def save_donor(tmp_path, name, n_classes, image_size, kind="safetensors"):
    """A timm model of preset ``name``'s architecture with another head, saved as a local weights file: timm's
    safetensors, or a torch checkpoint laid out as the trainer writes an ImageClassifier's."""
    config = replace(PRESETS[name], image_size=image_size)
    torch.manual_seed(1)
    donor = timm.create_model(config.architecture, pretrained=False, num_classes=n_classes, **timm_kwargs(config))
    path = tmp_path / f"donor.{'safetensors' if kind == 'safetensors' else 'pth'}"
    if kind == "safetensors":
        safetensors.torch.save_file(donor.state_dict(), path)
    else:
        torch.save({"model": {f"backbone.{k}": v for k, v in donor.state_dict().items()}, "step": 3}, path)
    return donor.state_dict(), path


@pytest.mark.parametrize("name, kind", [("swinv2-micro", "safetensors"), ("vit-micro", "torch")])
def test_load_pretrained_copies_the_backbone_and_keeps_the_head(tmp_path, name, kind):
    weights, path = save_donor(tmp_path, name, n_classes=5, image_size=SIZE, kind=kind)
    model = micro(name, n_classes=3)
    head = {k: v.clone() for k, v in model.backbone.state_dict().items() if k.startswith("head")}
    load_pretrained(model, path)
    state = model.backbone.state_dict()
    for key, value in state.items():
        if key.startswith("head"):
            assert torch.equal(value, head[key])
        else:
            assert torch.equal(value, weights[key]), key


def test_load_pretrained_takes_weights_that_timm_renames(tmp_path):
    """A SwinV2 checkpoint in Microsoft's naming (head.*, each downsample one stage earlier) loads whole."""
    weights, _ = save_donor(tmp_path, "swinv2-micro", n_classes=5, image_size=SIZE)
    shifted = re.compile(r"layers\.(\d+)\.downsample")
    release = {shifted.sub(lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k).replace("head.fc.", "head."): v
               for k, v in weights.items()}
    assert release.keys() != weights.keys()
    safetensors.torch.save_file(release, tmp_path / "release.safetensors")
    model = micro("swinv2-micro", n_classes=3)
    load_pretrained(model, tmp_path / "release.safetensors")
    for key, value in model.backbone.state_dict().items():
        if not key.startswith("head"):
            assert torch.equal(value, weights[key]), key


def test_load_pretrained_resizes_position_embeddings(tmp_path):
    _, path = save_donor(tmp_path, "vit-micro", n_classes=5, image_size=64)
    model = micro("vit-micro")  # 32 px: 4x4 patches where the file has 8x8
    load_pretrained(model, path)
    assert model.backbone.pos_embed.shape[1] == 1 + (SIZE // 8) ** 2


def test_load_pretrained_errors_name_the_file(tmp_path):
    model = micro("vit-micro")
    missing = tmp_path / "absent.safetensors"
    with pytest.raises(ConfigError, match="absent.safetensors.*does not exist"):
        load_pretrained(model, missing)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"junk")
    with pytest.raises(ConfigError, match="garbage.pth"):
        load_pretrained(model, garbage)
    _, other = save_donor(tmp_path, "swinv2-micro", n_classes=2, image_size=SIZE)
    with pytest.raises(ConfigError, match="donor.safetensors"):
        load_pretrained(model, other)
    unrelated = tmp_path / "unrelated.pt"
    torch.save({"encoder.weight": torch.zeros(3)}, unrelated)
    with pytest.raises(ConfigError, match="unrelated.pt holds none of the weights"):
        load_pretrained(model, unrelated)


def test_trainer_fits_an_image_classifier_and_predicts_every_object(tmp_path):
    curves = light_curves(12)
    settings = {"size": SIZE}
    task = Classification(Images(curves, np.arange(8), settings, augment=True),
                          Images(curves, np.arange(8, 12), settings), batch_size=8)
    model = micro("swinv2-micro")
    config = TrainConfig(max_steps=6, batch_size=8, warmup_steps=2, eval_every=3, checkpoint_every=3, layer_decay=0.8)
    Trainer(config, tmp_path).fit(model, task)
    probs = predict_proba(model, Images(curves, np.arange(12), settings, augment=False), batch_size=5)
    assert probs.shape == (12, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert (tmp_path / "last.pt").exists()
