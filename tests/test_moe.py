"""Mixture-of-Experts routing, load balance and the Astro-MoE encoder."""
import pytest
import torch

from astroflow.models.moe import AstroMoE, AstroMoEConfig, MoEFeedForward, load_balance
from test_models import build, make_batch


def layer(experts=4, top_k=2, n_bands=0):
    torch.manual_seed(0)
    return MoEFeedForward(dim=8, hidden=16, experts=experts, top_k=top_k, n_bands=n_bands).eval()


def test_each_point_goes_to_its_top_k_experts_with_gates_summing_to_one():
    moe = layer()
    x = torch.randn(50, 8)
    probs, gates, chosen = moe.route(x)
    assert chosen.shape == gates.shape == (50, 2)
    assert all(len(set(row)) == 2 for row in chosen.tolist())
    assert torch.equal(chosen, moe.router(x).topk(2).indices)
    assert torch.allclose(gates.sum(-1), torch.ones(50))
    assert torch.allclose(probs.sum(-1), torch.ones(50))


def test_output_is_the_gated_sum_of_the_chosen_experts():
    moe = layer()
    x = torch.randn(1, 5, 8)
    with torch.no_grad():
        out = moe(x)
        _, gates, chosen = moe.route(x[0])
        expected = torch.stack([sum(g * moe.experts[e](x[0, i]) for g, e in zip(gates[i], chosen[i].tolist()))
                                for i in range(5)])
    assert torch.allclose(out[0], expected, atol=1e-6)


def test_load_balance_loss_is_one_for_uniform_routing_and_e_when_collapsed():
    experts = 4
    uniform = load_balance(torch.full((8, experts), 1 / experts), torch.arange(8).remainder(experts)[:, None],
                           experts)
    assert uniform.aux_loss.item() == pytest.approx(1.0)
    assert torch.allclose(uniform.load, torch.full((experts,), 0.25))
    collapsed = load_balance(torch.eye(experts)[[0] * 8], torch.zeros(8, 1, dtype=torch.long), experts)
    assert collapsed.aux_loss.item() == pytest.approx(experts)
    probs = torch.softmax(torch.randn(64, experts), -1)
    assert load_balance(probs, probs.topk(2).indices, experts).aux_loss >= uniform.aux_loss - 1e-6


def test_padding_is_not_routed():
    moe = layer()
    x = torch.randn(2, 6, 8)
    mask = torch.tensor([[True] * 6, [True, True, False, False, False, False]])
    with torch.no_grad():
        out = moe(x, mask)
        stats = moe.stats
        alone = moe(x[mask][None])
    assert torch.allclose(out[mask], alone[0], atol=1e-6)
    assert torch.equal(out[~mask], torch.zeros(4, 8))
    assert torch.allclose(stats.load, moe.stats.load) and stats.load.sum().item() == pytest.approx(1.0)


def test_band_aware_router_sees_the_band():
    moe = layer(n_bands=3)
    x = torch.randn(1, 4, 8).expand(2, 4, 8)
    band = torch.tensor([[0, 0, 0, 0], [2, 2, 2, 2]])
    probs, _, _ = moe.route(x.reshape(-1, 8), band.reshape(-1))
    assert not torch.allclose(probs[:4], probs[4:])
    with pytest.raises(ValueError, match="band"):
        moe(x, torch.ones(2, 4, dtype=torch.bool))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="top_k"):
        layer(experts=2, top_k=3)
    with pytest.raises(ValueError, match="n_bands"):
        AstroMoE(AstroMoEConfig(band_aware=True, n_bands=0))


@pytest.mark.parametrize("band_aware", [False, True])
def test_astromoe_reports_expert_use_and_trains_its_router(band_aware):
    model = build("astromoe-tiny", band_aware=band_aware).train()
    with pytest.raises(RuntimeError):
        model.moe_stats()
    batch = make_batch(n_bands=6)
    hidden = model(batch)
    stats = model.moe_stats()
    assert stats.load.shape == stats.importance.shape == (2, 4)
    assert torch.allclose(stats.load.sum(-1), torch.ones(2))
    (model.reconstruct(hidden, batch).pow(2).mean() + 0.01 * stats.aux_loss).backward()
    assert model.blocks[0].ff.router.weight.grad.abs().sum() > 0
