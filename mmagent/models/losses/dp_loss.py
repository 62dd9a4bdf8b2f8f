"""Diagonality-preserving loss, as interpreted by mmagent (docs/design/lavit.md; **not** the printed equation).

The printed equation (A.5) is unbounded below and, minimised as printed, lowers the diagonal. mmagent uses
a normalised, bounded variant on a square P×P-cell matrix:

1. S = softmax of a layer's logits, (B, h, N, n): rows sum to 1.
2. The query axis is adaptive-average-pooled onto the same P×P grid as the key slots: Ŝ (B, h, n, n), rows
   still sum to 1, and query cell i and key slot i cover the same image region.
3. L_sym = mean_ij |Ŝ_ij − Ŝ_ji| (in [0, 2/n]), L_diag = mean_i (1 − Ŝ_ii) (in [0, 1]).
4. loss = λ · mean over (layers, batch, heads) of (w_sym·L_sym + w_diag·L_diag) >= 0, = 0 iff every Ŝ = I.

L_sym is the printed first term / n²; L_diag is the printed second term with its sign reversed, / n², plus
the constant (n−1)/n.
"""
from typing import Sequence, Tuple

import torch
import torch.nn as nn

from ...registry import register_model
from ..layers.export import adaptive_avg_pool2d

__all__ = ['pool_query_axis', 'dp_terms', 'DiagonalityPreservingLoss']


def pool_query_axis(probs: torch.Tensor, hw_shape: Tuple[int, int], pool_size: int) -> torch.Tensor:
    """(B, h, N, n) row-stochastic attention with N = H·W and n = P² -> Ŝ (B, h, n, n), rows = pooled queries."""
    b, heads, n_q, n_k = probs.shape
    h, w = hw_shape
    if n_q != h * w:
        raise ValueError(f'attention has {n_q} queries, which do not form the grid {h}x{w}')
    if n_k != pool_size * pool_size:
        raise ValueError(f'attention has {n_k} key slots; the DP loss needs a square matrix, i.e. '
                         f'pool_size² = {pool_size * pool_size} key slots')
    grid = probs.permute(0, 1, 3, 2).reshape(b, heads * n_k, h, w)
    pooled = adaptive_avg_pool2d(grid, pool_size).reshape(b, heads, n_k, n_k)
    return pooled.transpose(-2, -1)


def dp_terms(square: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(…, n, n) -> (L_sym, L_diag), each of shape (…): mean |S − Sᵀ| and mean (1 − diag S)."""
    if square.shape[-1] != square.shape[-2]:
        raise ValueError(f'dp_terms needs square matrices, got {tuple(square.shape[-2:])}')
    sym = (square - square.transpose(-2, -1)).abs().mean(dim=(-2, -1))
    diag = (1. - square.diagonal(dim1=-2, dim2=-1)).mean(dim=-1)
    return sym, diag


@register_model
class DiagonalityPreservingLoss(nn.Module):
    """``loss_dp`` over a list of attention probabilities (docs/design/lavit.md). No parameters.

    Args:
        loss_weight: λ >= 0; 0 gives a constant 0 without touching the inputs.
        term_weights: (w_sym, w_diag), both >= 0 (keeps the loss bounded below by 0).
        pool_size: P, the side of the key grid; the attention must have P² key slots.

    ``forward(attentions)``: a sequence of ``(probs (B, h, H·W, P²), (H, W))``; returns a scalar. The terms are
    computed in float32 so that the loss stays finite under mixed precision.
    """

    def __init__(self, loss_weight: float = 0.1, term_weights: Sequence[float] = (1.0, 1.0),
                 pool_size: int = 7) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'loss_dp_weight must be >= 0 (the loss is a penalty), got {loss_weight}')
        term_weights = tuple(float(w) for w in term_weights)
        if len(term_weights) != 2 or min(term_weights) < 0:
            raise ValueError(f'dp_term_weights must be two numbers >= 0 (w_sym, w_diag), got {term_weights}')
        self.loss_weight = float(loss_weight)
        self.term_weights = term_weights
        self.pool_size = pool_size

    def per_matrix(self, probs: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """(B, h, N, n) -> (B·h,) unweighted-by-λ values w_sym·L_sym + w_diag·L_diag."""
        sym, diag = dp_terms(pool_query_axis(probs.float(), hw_shape, self.pool_size))
        return (self.term_weights[0] * sym + self.term_weights[1] * diag).flatten()

    def forward(self, attentions: Sequence[Tuple[torch.Tensor, Tuple[int, int]]]) -> torch.Tensor:
        if not attentions:
            raise ValueError('DiagonalityPreservingLoss got no attention matrices')
        if self.loss_weight == 0:
            return attentions[0][0].new_zeros((), dtype=torch.float32)
        values = torch.cat([self.per_matrix(probs, hw) for probs, hw in attentions])
        return self.loss_weight * values.mean()

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, term_weights={self.term_weights}, pool_size={self.pool_size}'
