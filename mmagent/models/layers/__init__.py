from .agent_attention import AgentAttention
from .base import AttentionOp
from .cswin_attention import CSwinAgentAttention, CSwinFocusedLinearAttention, StripeAttention
from .focused_linear_attention import FocusedLinearAttention
from .lavit_attention import LaViTLessAttention, LaViTVanillaAttention, ResidualAttentionDownsample
from .spatial_reduction_attention import SpatialReductionAttention
from .window_attention import ShiftedWindowAttention

__all__ = [
    'AttentionOp', 'AgentAttention', 'FocusedLinearAttention', 'ShiftedWindowAttention', 'SpatialReductionAttention',
    'LaViTVanillaAttention', 'LaViTLessAttention', 'ResidualAttentionDownsample', 'StripeAttention',
    'CSwinAgentAttention', 'CSwinFocusedLinearAttention'
]
