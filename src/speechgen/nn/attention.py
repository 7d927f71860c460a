"""Attention of sequence-to-sequence decoders over an encoded input sequence.

:class:`LocationSensitiveAttention` (Chorowski et al. 2015, "Attention-based models for speech recognition"; the
attention of Tacotron 2, Shen et al. 2018): at each decoder step the energies over the ``L`` encoder outputs are

    e_j = vᵀ tanh(W q + V m_j + U f_j + b)

with ``q`` the query (the attention RNN's output), ``m_j`` the encoder output (memory) ``j``, and ``f_j`` the
location features: ``location_filters`` 1-D convolutions (width ``location_kernel``) over the previous attention
weights and their running sum (two input channels, as in the published Tacotron 2 implementations: the running sum
tells the model how far it has read, the previous weights where it just was). The weights are the softmax of the
energies over the true inputs: padded positions (``mask`` True) get no weight, so every row sums to 1 over the
positions of its own sequence.

:class:`AdditiveAttention` (Bahdanau, Cho & Bengio 2015, "Neural machine translation by jointly learning to align
and translate"; the content-based tanh attention of Tacotron, Wang et al. 2017) is the same without the location
term: ``e_j = vᵀ tanh(W q + V m_j + b)``. Both share :func:`attend` (the masked softmax and the context).

:func:`length_mask` builds the padding mask from sequence lengths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError


def length_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Boolean ``[B, max_len]``: True at the padded positions ``j >= lengths[b]`` (``max_len`` default: the longest)."""
    lengths = torch.as_tensor(lengths).reshape(-1)
    n = int(lengths.max()) if max_len is None else int(max_len)
    return torch.arange(n, device=lengths.device)[None, :] >= lengths.to(torch.long)[:, None]


def attend(energies: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None,
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(context [B, memory_dim], weights [B, L])`` of energies ``[B, L]`` over ``memory [B, L, memory_dim]``: the
    softmax over the true positions (``mask`` ``[B, L]`` True at padded ones, which get no weight; None: no
    padding) and the weighted sum of the memory."""
    if mask is not None:
        energies = energies.masked_fill(mask, float("-inf"))
    weights = F.softmax(energies, dim=-1)
    context = torch.bmm(weights.unsqueeze(1), memory).squeeze(1)
    return context, weights


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: expected an integer >= 1, got {value!r}")


class LocationSensitiveAttention(nn.Module):
    """Location-sensitive additive attention (see the module docstring).

    Args:
        query_dim: width of the query (the attention RNN's hidden state).
        memory_dim: width of each encoder output.
        attention_dim: width of the space the query, memory and location features are projected to (128 in
            Tacotron 2).
        location_filters: convolution filters over the previous and cumulative attention weights (32).
        location_kernel: their width in encoder positions, odd so that they are centred (31).
    """

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int = 128, location_filters: int = 32,
                 location_kernel: int = 31) -> None:
        super().__init__()
        for name, value in (("query_dim", query_dim), ("memory_dim", memory_dim), ("attention_dim", attention_dim),
                            ("location_filters", location_filters), ("location_kernel", location_kernel)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected an integer >= 1, got {value!r}")
        if location_kernel % 2 == 0:
            raise ConfigError(f"location_kernel: must be odd (a centred convolution), got {location_kernel}")
        self.query_layer = nn.Linear(query_dim, attention_dim, bias=False)
        self.memory_layer = nn.Linear(memory_dim, attention_dim, bias=False)
        self.location_conv = nn.Conv1d(2, location_filters, location_kernel, padding=location_kernel // 2,
                                       bias=False)
        self.location_dense = nn.Linear(location_filters, attention_dim, bias=False)
        self.v = nn.Linear(attention_dim, 1, bias=True)

    def process_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """``V m_j`` of every encoder output ``[B, L, memory_dim]`` → ``[B, L, attention_dim]`` (once per
        utterance)."""
        return self.memory_layer(memory)

    def energies(self, query: torch.Tensor, processed_memory: torch.Tensor, weights_cat: torch.Tensor,
                 ) -> torch.Tensor:
        """Unnormalised energies ``[B, L]`` of a query ``[B, query_dim]`` given the previous and cumulative weights
        ``weights_cat [B, 2, L]``."""
        location = self.location_dense(self.location_conv(weights_cat).transpose(1, 2))  # [B, L, A]
        hidden = torch.tanh(self.query_layer(query)[:, None, :] + processed_memory + location)
        return self.v(hidden).squeeze(-1)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, processed_memory: torch.Tensor,
                weights_cat: torch.Tensor, mask: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(context [B, memory_dim], weights [B, L])`` of one decoder step.

        query: ``[B, query_dim]``; memory: ``[B, L, memory_dim]``; processed_memory: :meth:`process_memory` of it;
        weights_cat: ``[B, 2, L]``, the previous weights and their running sum; mask: ``[B, L]`` True at padded
        positions (None: no padding).
        """
        return attend(self.energies(query, processed_memory, weights_cat), memory, mask)


class AdditiveAttention(nn.Module):
    """Content-based additive (Bahdanau) attention: ``e_j = vᵀ tanh(W q + V m_j + b)`` (module docstring), the
    attention of Tacotron (Wang et al. 2017).

    Args:
        query_dim: width of the query (the attention RNN's hidden state).
        memory_dim: width of each encoder output.
        attention_dim: width of the space the query and memory are projected to (256 in Tacotron's
            implementations).
    """

    def __init__(self, query_dim: int, memory_dim: int, attention_dim: int = 256) -> None:
        super().__init__()
        _check_sizes(query_dim=query_dim, memory_dim=memory_dim, attention_dim=attention_dim)
        self.query_layer = nn.Linear(query_dim, attention_dim, bias=False)
        self.memory_layer = nn.Linear(memory_dim, attention_dim, bias=False)
        self.v = nn.Linear(attention_dim, 1, bias=True)

    def process_memory(self, memory: torch.Tensor) -> torch.Tensor:
        """``V m_j`` of every encoder output ``[B, L, memory_dim]`` → ``[B, L, attention_dim]`` (once per
        utterance)."""
        return self.memory_layer(memory)

    def energies(self, query: torch.Tensor, processed_memory: torch.Tensor) -> torch.Tensor:
        """Unnormalised energies ``[B, L]`` of a query ``[B, query_dim]``."""
        return self.v(torch.tanh(self.query_layer(query)[:, None, :] + processed_memory)).squeeze(-1)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, processed_memory: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(context [B, memory_dim], weights [B, L])`` of one decoder step (query ``[B, query_dim]``, memory
        ``[B, L, memory_dim]``, processed_memory its :meth:`process_memory`, mask ``[B, L]`` True at padded
        positions or None)."""
        return attend(self.energies(query, processed_memory), memory, mask)
