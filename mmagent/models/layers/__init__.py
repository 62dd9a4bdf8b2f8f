from .agent_attention import AgentAttention
from .focused_linear_attention import FocusedLinearAttention
from .window_attention import ShiftedWindowAttention, SpatialReductionAttention

__all__ = ['AgentAttention', 'FocusedLinearAttention', 'ShiftedWindowAttention', 'SpatialReductionAttention']
