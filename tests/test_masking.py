"""The masked-reconstruction task: which points are probed, how they are hidden, and the loss on them."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from astroflow.models.masking import mask_batch, masked_rmse


def windows(n=2000, width=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, width + 1, (n,), generator=g)
    mask = torch.arange(width)[None] < lengths[:, None]
    value = torch.randn(n, width, generator=g) * mask
    return {"value": value, "time": torch.zeros(n, width), "mask": mask}


def test_half_of_the_real_points_are_probed_and_split_20_20_60():
    batch = windows()
    out = mask_batch(batch, torch.Generator().manual_seed(1))
    real, probed, token = batch["mask"], out["probed"], out["token_mask"]
    randomised = out["value"] != batch["value"]
    assert not (probed & ~real).any()
    assert not (token & ~probed).any() and not (randomised & ~probed).any()
    assert probed.sum() / real.sum() == pytest.approx(0.5, abs=0.01)
    # Random replacements may draw the point's own value; the visible share then includes them.
    kept = probed & ~token & ~randomised
    assert randomised.sum() / probed.sum() == pytest.approx(0.2, abs=0.02)
    assert kept.sum() / probed.sum() == pytest.approx(0.2, abs=0.03)
    assert token.sum() / probed.sum() == pytest.approx(0.6, abs=0.02)
    assert torch.equal(out["target"], batch["value"])


def test_random_values_come_from_the_same_window():
    batch = windows(n=200)
    out = mask_batch(batch, torch.Generator().manual_seed(2))
    changed = (out["value"] != batch["value"]).nonzero()
    assert len(changed)
    for row, col in changed.tolist():
        assert out["value"][row, col] in batch["value"][row][batch["mask"][row]]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=8), st.integers(0, 2**31))
def test_counts_per_window_are_rounded_fractions(lengths, seed):
    mask = torch.arange(40)[None] < torch.tensor(lengths)[:, None]
    out = mask_batch({"value": torch.randn(mask.shape), "mask": mask}, torch.Generator().manual_seed(seed))
    n = mask.sum(1)
    k = torch.floor(0.5 * n + 0.5)
    assert torch.equal(out["probed"].sum(1), k.long())
    assert torch.equal(out["token_mask"].sum(1), (k - 2 * torch.floor(0.2 * k + 0.5)).long())


def test_masking_is_deterministic_given_a_generator():
    batch = windows(n=50)
    a = mask_batch(batch, torch.Generator().manual_seed(7))
    b = mask_batch(batch, torch.Generator().manual_seed(7))
    c = mask_batch(batch, torch.Generator().manual_seed(8))
    assert all(torch.equal(a[key], b[key]) for key in ("value", "probed", "token_mask"))
    assert not torch.equal(a["probed"], c["probed"])


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="fractions"):
        mask_batch(windows(n=2), probe=1.5)


def test_loss_counts_probed_points_only():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 10, generator=g), torch.randn(4, 10, generator=g)
    probed = torch.rand(4, 10, generator=g) < 0.5
    loss = masked_rmse(pred, target, probed)
    other_pred = torch.where(probed, pred, pred + 100.0)
    other_target = torch.where(probed, target, -target)
    assert masked_rmse(other_pred, other_target, probed) == loss
    assert masked_rmse(torch.where(probed, pred + 1.0, pred), target, probed) != loss


def test_loss_is_the_root_of_the_mean_window_mse():
    pred = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    target = torch.zeros(3, 3)
    probed = torch.tensor([[True, True, False], [False, False, False], [False, False, True]])
    # window 1: (1 + 4) / 2 = 2.5; window 2 has no probed point and is left out; window 3: 25.
    assert masked_rmse(pred, target, probed).item() == pytest.approx(((2.5 + 25) / 2) ** 0.5)


def test_inverse_error_weights():
    pred = torch.tensor([[1.0, 3.0]])
    target = torch.zeros(1, 2)
    probed = torch.ones(1, 2, dtype=torch.bool)
    error = torch.tensor([[0.1, 0.3]])
    # weights 10 and 10/3: (10 * 1 + 10/3 * 9) / (10 + 10/3) = 3
    assert masked_rmse(pred, target, probed, error).item() == pytest.approx(3.0 ** 0.5)
    assert masked_rmse(pred, target, probed, torch.zeros(1, 2)).item() == pytest.approx(5.0 ** 0.5)


def test_loss_without_probed_points_is_finite_with_zero_gradient():
    pred = torch.randn(2, 5, requires_grad=True)
    loss = masked_rmse(pred, torch.zeros(2, 5), torch.zeros(2, 5, dtype=torch.bool))
    loss.backward()
    assert torch.isfinite(loss) and torch.equal(pred.grad, torch.zeros(2, 5))
