"""Losses and scores of attention alignments between a decoder's steps and an encoder's inputs.

An alignment is ``A [B, T, N]``: decoder step ``t`` of ``T`` attends with weights ``A[b, t, :]`` (summing to 1) to
the ``N`` encoder inputs. Text and speech advance together, so a good alignment of text-to-speech runs near the
diagonal ``n / N = t / T``.

- :func:`guided_attention_weights`: Tachibana et al. 2018 ("Efficiently trainable text-to-speech system based on
  deep convolutional networks with guided attention") penalty ``W[t, n] = 1 - exp(-(n/N - t/T)² / (2 g²))``, with
  each item's own ``N`` and ``T`` (its true lengths) and zeros at padded positions.
- :func:`guided_attention_loss`: the attention mass that falls off the diagonal, ``Σ_{t,n} A[t, n] W[t, n]``
  averaged over the true decoder steps of the batch, so in [0, 1] whatever the lengths (Tachibana et al. average
  over every ``(n, t)`` pair, which is this divided by ``N``: a loss that shrinks with the text length).
- :func:`diagonality`: ``1 -`` that loss (the share of attention mass near the diagonal) and :func:`focus`: the
  mean over true decoder steps of the largest weight (1: each step attends to one input; ``1/N``: spread evenly).
"""

from __future__ import annotations

import torch

from speechgen.errors import ConfigError

DEFAULT_WIDTH = 0.2  # g of Tachibana et al.


def _lengths(lengths: torch.Tensor, size: int, name: str) -> torch.Tensor:
    lengths = torch.as_tensor(lengths).reshape(-1).to(torch.long)
    if bool((lengths < 1).any()) or bool((lengths > size).any()):
        raise ConfigError(f"{name}: expected lengths in 1..{size}, got {lengths.tolist()}")
    return lengths


def guided_attention_weights(input_lengths: torch.Tensor, output_lengths: torch.Tensor, max_input: int,
                             max_output: int, width: float = DEFAULT_WIDTH) -> torch.Tensor:
    """Penalties ``W [B, max_output, max_input]`` (see the module docstring): 0 on each item's diagonal, towards 1
    away from it, and 0 at the padded positions (beyond ``output_lengths[b]`` steps or ``input_lengths[b]``
    inputs)."""
    if not width > 0:
        raise ConfigError(f"guided attention width: must be > 0, got {width}")
    n_len = _lengths(input_lengths, max_input, "input_lengths")
    t_len = _lengths(output_lengths, max_output, "output_lengths")
    device = n_len.device
    n_idx = torch.arange(max_input, device=device)[None, None, :]
    t_idx = torch.arange(max_output, device=device)[None, :, None]
    n = n_idx / n_len[:, None, None].to(torch.float32)
    t = t_idx / t_len[:, None, None].to(torch.float32)
    w = 1.0 - torch.exp(-((n - t) ** 2) / (2.0 * width * width))
    valid = (n_idx < n_len[:, None, None]) & (t_idx < t_len[:, None, None])
    return w * valid


def guided_attention_loss(alignments: torch.Tensor, input_lengths: torch.Tensor, output_lengths: torch.Tensor,
                          width: float = DEFAULT_WIDTH) -> torch.Tensor:
    """Off-diagonal attention mass of ``alignments [B, T, N]`` averaged over the true decoder steps (module
    docstring); ``output_lengths`` counts decoder steps, ``input_lengths`` encoder inputs."""
    b, t, n = alignments.shape
    w = guided_attention_weights(input_lengths.to(alignments.device), output_lengths.to(alignments.device), n, t,
                                 width).to(alignments.dtype)
    steps = output_lengths.to(alignments.device).sum().clamp_min(1)
    return (alignments * w).sum() / steps


@torch.no_grad()
def diagonality(alignments: torch.Tensor, input_lengths: torch.Tensor, output_lengths: torch.Tensor,
                width: float = DEFAULT_WIDTH) -> torch.Tensor:
    """Share of the attention mass near the diagonal: ``1 -`` :func:`guided_attention_loss` (1: on the diagonal)."""
    return 1.0 - guided_attention_loss(alignments, input_lengths, output_lengths, width)


@torch.no_grad()
def focus(alignments: torch.Tensor, output_lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the true decoder steps of each step's largest attention weight (1: sharp; ``1/N``: uniform)."""
    b, t, _ = alignments.shape
    steps = _lengths(output_lengths, t, "output_lengths").to(alignments.device)
    valid = torch.arange(t, device=alignments.device)[None, :] < steps[:, None]
    peak = alignments.max(dim=-1).values
    return (peak * valid).sum() / valid.sum().clamp_min(1)
