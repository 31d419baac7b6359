"""Astromer encoder, time encoding, padding, heads, registry, training behaviour of the tiny presets."""
import pytest
import torch

from astroflow import models
from astroflow.errors import ConfigError
from astroflow.models.heads import Classifier, LayerWeightedHead, MeanPoolHead, masked_mean
from astroflow.models.layers import TimeEncoding, count_parameters
from astroflow.models.masking import mask_batch, masked_rmse

TINY_PRESETS = ["astromer-tiny", "astromoe-tiny", "multiband-perband-tiny", "multiband-joint-tiny"]


def make_batch(lengths=(30, 20, 5, 1), width=None, n_bands=2, seed=0):
    """A padded batch like represent/windows.py gives: increasing times with gaps, zero-meaned, zero padding; with
    each object's period (train/data.py)."""
    g = torch.Generator().manual_seed(seed)
    width = width or max(lengths)
    mask = torch.arange(width)[None] < torch.tensor(lengths)[:, None]
    time = torch.cumsum(torch.rand(len(lengths), width, generator=g) * 3, dim=1)
    count = mask.sum(1, keepdim=True).clamp_min(1)
    time = torch.where(mask, time - (time * mask).sum(1, keepdim=True) / count, 0.0)
    value = torch.sin(time / 2.0) + 0.1 * torch.randn(time.shape, generator=g)
    value = torch.where(mask, value - (value * mask).sum(1, keepdim=True) / count, 0.0)
    return {"time": time, "value": value, "error": (0.05 + 0.1 * torch.rand(time.shape, generator=g)) * mask,
            "band": torch.randint(0, n_bands, time.shape, generator=g) * mask, "mask": mask,
            "label": torch.arange(len(lengths)) % 2,
            "period": torch.tensor([7.3, 0.0, 2.1, 11.0])[:len(lengths)]}  # 0: none found (astromer-tiny folds)


def build(name, **overrides):
    torch.manual_seed(0)
    return models.build(name, **overrides).eval()


def reconstruction_loss(model, batch):
    return masked_rmse(model.reconstruct(model(batch), batch), batch["target"], batch["probed"])


def gradients_are_finite(model):
    return all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_time_encoding_interleaves_sin_and_cos_of_real_times():
    t = torch.tensor([[0.0, 1.5, 40.0]])
    enc = TimeEncoding(8)(t)
    assert enc.shape == (1, 3, 8)
    assert torch.allclose(enc[..., 0], torch.sin(t)) and torch.allclose(enc[..., 1], torch.cos(t))
    assert torch.allclose(enc[..., 6], torch.sin(t / 10000 ** (6 / 8)))
    with pytest.raises(ValueError):
        TimeEncoding(7)


def test_same_values_at_other_times_give_other_embeddings():
    model = build("astromer-tiny")
    batch = make_batch()
    shifted = dict(batch, time=batch["time"] * 1.7)
    with torch.no_grad():
        assert not torch.allclose(model(batch)[-1], model(shifted)[-1])


@pytest.mark.parametrize("name", TINY_PRESETS)
def test_padding_does_not_change_real_points(name):
    model = build(name)
    batch = make_batch(lengths=(12, 7, 3))
    padded = {}
    for key, value in batch.items():
        if key in ("label", "period"):  # per object
            padded[key] = value
        elif key == "mask":
            padded[key] = torch.cat([value, torch.zeros(3, 9, dtype=torch.bool)], 1)
        else:  # garbage in the padding: it must be ignored, not merely zero
            padded[key] = torch.cat([value, (torch.rand(3, 9) * 5).to(value.dtype)], 1)
    padded["band"] = padded["band"] % 2
    with torch.no_grad():
        short, long = model(batch), model(padded)
    mask = batch["mask"]
    for a, b in zip(short, long):
        assert torch.allclose(a[mask], b[:, :12][mask], atol=1e-5)


@pytest.mark.parametrize("name", TINY_PRESETS)
def test_a_window_without_points_gives_finite_outputs(name):
    model = build(name).train()
    batch = mask_batch(make_batch(lengths=(9, 0)), torch.Generator().manual_seed(0))
    loss = reconstruction_loss(model, batch)
    loss.backward()
    assert torch.isfinite(loss) and gradients_are_finite(model)


def test_hidden_states_and_reconstruction_shapes():
    model = build("astromer1")
    batch = make_batch()
    with torch.no_grad():
        hidden = model(batch)
        pred = model.reconstruct(hidden, batch)
    assert len(hidden) == model.n_hidden == 3
    assert all(h.shape == (4, 30, 256) for h in hidden)
    assert pred.shape == (4, 30)


def test_presets_have_the_paper_sizes():
    assert models.model_config("astromer2").dim == 256
    assert len(build("astromer2").blocks) == 6 and len(build("astromer1").blocks) == 2
    assert count_parameters(build("astromer2")) > count_parameters(build("astromer1"))


def test_error_input_and_mask_token_change_the_embedding():
    model = build("astromer-tiny", use_error=True)
    batch = make_batch()
    tokens = dict(batch, token_mask=batch["mask"] & (torch.arange(30) % 3 == 0))
    with torch.no_grad():
        base = model(batch)[0]
        assert not torch.allclose(base, model(dict(batch, error=batch["error"] * 2))[0])
        masked = model(tokens)[0]
    assert torch.equal(masked[~tokens["token_mask"]], base[~tokens["token_mask"]])
    assert not torch.allclose(masked[tokens["token_mask"]], base[tokens["token_mask"]])


def test_registry_rejects_unknown_names_and_settings():
    with pytest.raises(ConfigError, match="unknown model"):
        models.build("astromer9")
    with pytest.raises(ConfigError, match="dropuot"):
        models.build("astromer-tiny", dropuot=0.1)
    assert models.model_config("astromer-tiny", dropout=0.0).dropout == 0.0


def test_band_codes_out_of_range_are_refused():
    model = build("multiband-joint-tiny")
    batch = make_batch()
    batch["band"] = batch["band"] + 2 * batch["mask"]
    with pytest.raises(ValueError, match="band codes"):
        model(batch)


def test_heads_pool_real_points_only():
    hidden = [torch.randn(3, 10, 8) for _ in range(4)]
    mask = torch.arange(10)[None] < torch.tensor([[10], [4], [0]])
    pooled = masked_mean(hidden[-1], mask)
    assert torch.allclose(pooled[1], hidden[-1][1, :4].mean(0)) and torch.equal(pooled[2], torch.zeros(8))
    assert MeanPoolHead(8, 5, hidden=(16,))(hidden, mask).shape == (3, 5)
    head = LayerWeightedHead(8, 4, 5, hidden=(16, 16))
    assert head(hidden, mask).shape == (3, 5)
    assert torch.allclose(head.layer_weights(), torch.full((4,), 0.25))
    with pytest.raises(ValueError):
        head(hidden[:3], mask)


def test_frozen_encoder_trains_the_head_only():
    encoder = build("astromer-tiny")
    head = LayerWeightedHead(encoder.config.dim, encoder.n_hidden, 3, hidden=(16,))
    model = Classifier(encoder, head, freeze_encoder=True).train()
    assert not encoder.training and head.training
    batch = make_batch()
    torch.nn.functional.cross_entropy(model(batch), batch["label"]).backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert head.layer_logits.grad is not None
    tuned = Classifier(build("astromer-tiny"), MeanPoolHead(32, 3, hidden=(16,))).train()
    torch.nn.functional.cross_entropy(tuned(batch), batch["label"]).backward()
    assert tuned.encoder.embed.value.weight.grad is not None


def _pretrain(name, steps, seed=0, **overrides):
    torch.manual_seed(seed)
    model = models.build(name, **overrides).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = mask_batch(make_batch(lengths=(30, 25, 30, 18), seed=1), torch.Generator().manual_seed(seed))
    losses = []
    for _ in range(steps):
        loss = reconstruction_loss(model, batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return model, losses


def test_tiny_model_overfits_a_tiny_batch():
    _, losses = _pretrain("astromer-tiny", 40, dropout=0.0)
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_training():
    a, losses_a = _pretrain("astromer-tiny", 3)
    b, losses_b = _pretrain("astromer-tiny", 3)
    assert losses_a == losses_b
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    _, losses_c = _pretrain("astromer-tiny", 3, seed=1)
    assert losses_c != losses_a


@pytest.mark.parametrize("name", TINY_PRESETS)
def test_bf16_autocast_on_cpu(name):
    model = build(name).train()
    batch = mask_batch(make_batch(), torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = reconstruction_loss(model, batch)
    loss.backward()
    assert torch.isfinite(loss) and gradients_are_finite(model)
