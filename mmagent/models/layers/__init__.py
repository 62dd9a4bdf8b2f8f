from .agent_attention import AgentAttention
from .focused_linear_attention import FocusedLinearAttention
from .window_attention import ShiftedWindowAttention, SpatialReductionAttention

__all__ = ['AgentAttention', 'FocusedLinearAttention', 'ShiftedWindowAttention', 'SpatialReductionAttention']
from .lavit_attention import LaViTLessAttention, LaViTVanillaAttention, ResidualAttentionDownsample  # noqa: E402

__all__ += ['LaViTVanillaAttention', 'LaViTLessAttention', 'ResidualAttentionDownsample']
