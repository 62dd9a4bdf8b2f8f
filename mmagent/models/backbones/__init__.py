from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .flatten_pvt import FLattenPVT
from .flatten_swin import FLattenSwinTransformer

__all__ = ['AgentSwinTransformer', 'AgentPVT', 'FLattenSwinTransformer', 'FLattenPVT']
