"""space.references: the user's five nets, exactly at their stated sizes."""

from __future__ import annotations

import pytest
import torch

from space import REFERENCES, REPORTED, Candidate, TrainConfig, build, count_params, reference
from space.config import IN_CHANNELS, IN_SIZE, N_CLASSES

# the user's parameter counts, as stated in the issue
COUNTS = {"ref6016": 6016, "ref9902": 9902, "ref13914": 13914, "ref10224": 10224, "ref18448": 18448}


def test_the_five_names():
    assert set(REFERENCES) == set(COUNTS)
    assert set(REPORTED) == set(COUNTS)


@pytest.mark.parametrize(("name", "count"), list(COUNTS.items()))
def test_reference_sizes(name, count):
    cand = reference(name)
    assert isinstance(cand, Candidate) and isinstance(cand.train, TrainConfig)
    assert count_params(cand.net) == count
    assert sum(p.numel() for p in build(cand.net).parameters()) == count


@pytest.mark.parametrize("name", list(COUNTS))
def test_reference_forward_backward(name):
    torch.manual_seed(0)
    net = build(reference(name).net).train()
    x = torch.randn(2, IN_CHANNELS, IN_SIZE, IN_SIZE)
    out = net(x)
    assert out.shape == (2, N_CLASSES) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1])).backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    with torch.no_grad():
        assert net.eval()(x).shape == (2, N_CLASSES)


def test_reference_lookup():
    for name in COUNTS:
        assert reference(name) is REFERENCES[name]


def test_unknown_reference_names_the_known_ones():
    with pytest.raises(KeyError) as ei:
        reference("nope")
    msg = str(ei.value)
    assert "nope" in msg
    for name in COUNTS:
        assert name in msg


def test_reported_accuracies_are_percentages():
    for name, acc in REPORTED.items():
        assert 90.0 < acc <= 100.0, name
