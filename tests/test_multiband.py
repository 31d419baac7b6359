"""Multiband Astromer: per-band encoders with fusion, and the joint encoder; asynchronous and missing bands."""
import pytest
import torch

from astroflow.models.multiband import JointEncoder, PerBandFusion, scatter_points, select_points
from test_models import build, gradients_are_finite, make_batch


def test_select_then_scatter_puts_points_back_in_place():
    batch = make_batch()
    chosen = batch["mask"] & (batch["band"] == 1)
    sub, index = select_points(batch, chosen)
    assert sub["mask"].shape[1] == chosen.sum(1).max()
    assert torch.equal(sub["time"][sub["mask"]], batch["time"][chosen])  # time order kept within the band
    back = scatter_points(sub["value"][..., None], index, sub["mask"], chosen.shape[1])[..., 0]
    assert torch.equal(back, torch.where(chosen, batch["value"], 0.0))


def _missing_band_batch():
    """Band 1 absent from the second window; times of the two bands interleave (asynchronous sampling)."""
    batch = make_batch(lengths=(16, 10, 6))
    batch["band"] = (torch.arange(16) % 2).expand(3, 16) * batch["mask"]
    batch["band"][1] = 0
    return batch


@pytest.mark.parametrize("name,overrides", [("multiband-perband-tiny", {"shared": True}),
                                            ("multiband-perband-tiny", {"shared": False}),
                                            ("multiband-joint-tiny", {})])
def test_a_missing_band_works(name, overrides):
    model = build(name, **overrides).train()
    batch = _missing_band_batch()
    hidden = model(batch)
    pred = model.reconstruct(hidden, batch)
    assert len(hidden) == model.n_hidden and hidden[-1].shape == (3, 16, 32) and pred.shape == (3, 16)
    pred[batch["mask"]].pow(2).mean().backward()
    assert gradients_are_finite(model)
    only_band_0 = dict(batch, mask=batch["mask"] & (batch["band"] == 0))  # band 1 missing from every window
    assert torch.isfinite(model(only_band_0)[-1]).all()


def test_bands_meet_only_in_the_fusion():
    batch = _missing_band_batch()
    band_0 = batch["mask"] & (batch["band"] == 0)
    changed = dict(batch, value=torch.where(batch["band"] == 1, batch["value"] + 1.0, batch["value"]))
    for fusion_layers, differs in ((0, False), (1, True)):
        model = build("multiband-perband-tiny", fusion_layers=fusion_layers)
        with torch.no_grad():
            a, b = model(batch)[-1], model(changed)[-1]
        assert torch.allclose(a[band_0], b[band_0], atol=1e-6) != differs


def test_separate_encoders_have_their_own_weights_and_heads():
    shared, separate = build("multiband-perband-tiny"), build("multiband-perband-tiny", shared=False)
    assert len(shared.encoders) == 1 and len(separate.encoders) == 2
    assert shared.encoder(1) is shared.encoder(0) and separate.encoder(1) is not separate.encoder(0)
    batch = _missing_band_batch()
    with torch.no_grad():
        hidden = separate(batch)
        pred = separate.reconstruct(hidden, batch)
    on_band_1 = batch["mask"] & (batch["band"] == 1)
    assert torch.allclose(pred[on_band_1], separate.encoder(1).head(hidden[-1])[on_band_1])


def test_joint_encoder_tells_bands_apart():
    model = build("multiband-joint-tiny")
    batch = _missing_band_batch()
    with torch.no_grad():
        assert not torch.allclose(model(batch)[0], model(dict(batch, band=1 - batch["band"]))[0])


def test_multiband_models_need_bands():
    with pytest.raises(ValueError):
        build("multiband-joint-tiny", n_bands=0)
    assert isinstance(build("multiband-joint-tiny"), JointEncoder)
    with pytest.raises(ValueError):
        PerBandFusion(build("multiband-perband-tiny").config.__class__(n_bands=0))
