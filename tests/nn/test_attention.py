"""Location-sensitive attention: weights sum to 1 over each sequence's own inputs, padded inputs get no weight (and
what they hold changes nothing), the context is the weighted memory, and sizes are checked; the content-based
additive attention of Tacotron likewise."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.nn.attention import AdditiveAttention, LocationSensitiveAttention, length_mask


@torch.no_grad()
def _setup(b=3, n=9, q=12, m=10, seed=0):
    torch.manual_seed(seed)
    att = LocationSensitiveAttention(q, m, attention_dim=8, location_filters=4, location_kernel=5)
    gen = torch.Generator().manual_seed(seed)
    query = torch.randn(b, q, generator=gen)
    memory = torch.randn(b, n, m, generator=gen)
    prev = torch.softmax(torch.randn(b, n, generator=gen), -1)
    return att, query, memory, torch.stack([prev, prev * 2], dim=1)


def test_length_mask_marks_padding():
    mask = length_mask(torch.tensor([3, 1, 4]))
    assert mask.tolist() == [[False, False, False, True], [False, True, True, True], [False] * 4]
    assert length_mask(torch.tensor([2]), 5).shape == (1, 5)


def test_weights_sum_to_one_and_padded_positions_get_none():
    att, query, memory, cat = _setup()
    lengths = torch.tensor([9, 5, 1])
    mask = length_mask(lengths, 9)
    with torch.no_grad():
        context, w = att(query, memory, att.process_memory(memory), cat, mask)
    assert w.shape == (3, 9) and context.shape == (3, 10)
    torch.testing.assert_close(w.sum(-1), torch.ones(3))
    assert float(w[mask].abs().max()) == 0.0
    assert float(w[2, 0]) == pytest.approx(1.0)  # one input: all the weight
    torch.testing.assert_close(context, torch.einsum("bn,bnm->bm", w, memory))


def test_padding_values_do_not_change_the_result():
    att, query, memory, cat = _setup()
    mask = length_mask(torch.tensor([9, 5, 3]), 9)
    att.requires_grad_(False)
    c1, w1 = att(query, memory, att.process_memory(memory), cat, mask)
    noisy = memory.masked_fill(mask[..., None], 1e3)
    c2, w2 = att(query, noisy, att.process_memory(noisy), cat, mask)
    torch.testing.assert_close(w1, w2)
    torch.testing.assert_close(c1, c2)


def test_location_features_move_the_attention():
    att, query, memory, cat = _setup()
    processed = att.process_memory(memory)
    _, w1 = att(query, memory, processed, cat)
    _, w2 = att(query, memory, processed, cat.flip(-1))
    assert not torch.allclose(w1, w2)


@pytest.mark.parametrize("kw, field", [({"location_kernel": 4}, "location_kernel"), ({"attention_dim": 0},
                                                                                      "attention_dim")])
def test_bad_sizes_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field):
        LocationSensitiveAttention(8, 8, **kw)


def test_additive_attention_masks_padding_and_is_content_based():
    torch.manual_seed(0)
    att = AdditiveAttention(12, 10, attention_dim=8)
    gen = torch.Generator().manual_seed(0)
    query, memory = torch.randn(3, 12, generator=gen), torch.randn(3, 9, 10, generator=gen)
    lengths = torch.tensor([9, 5, 1])
    mask = length_mask(lengths, 9)
    with torch.no_grad():
        context, weights = att(query, memory, att.process_memory(memory), mask)
    assert context.shape == (3, 10) and weights.shape == (3, 9)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    assert float(weights[1, 5:].abs().max()) == 0.0 and float(weights[2, 0]) == pytest.approx(1.0)
    torch.testing.assert_close(context, torch.einsum("bn,bnm->bm", weights, memory))
    changed = memory.clone()
    changed[1, 5:] = 100.0
    torch.testing.assert_close(att(query, changed, att.process_memory(changed), mask)[0], context)
    with pytest.raises(ConfigError, match="attention_dim"):
        AdditiveAttention(12, 10, attention_dim=0)
