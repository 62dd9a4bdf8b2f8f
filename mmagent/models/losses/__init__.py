from .dp_loss import DiagonalityPreservingLoss, dp_terms, pool_query_axis

__all__ = ['DiagonalityPreservingLoss', 'dp_terms', 'pool_query_axis']
