from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .flatten_pvt import FLattenPVT
from .flatten_swin import FLattenSwinTransformer

__all__ = ['AgentSwinTransformer', 'AgentPVT', 'FLattenSwinTransformer', 'FLattenPVT', 'OFFICIAL_FAMILIES']

# Backbones that official checkpoints exist for, by family name (tools/model_converters/convert_official.py).
OFFICIAL_FAMILIES = {
    'agent_swin': AgentSwinTransformer,
    'agent_pvt': AgentPVT,
    'flatten_swin': FLattenSwinTransformer,
    'flatten_pvt': FLattenPVT,
}
from .lavit import LaViT, LaViTClassifier  # noqa: E402

__all__ += ['LaViT', 'LaViTClassifier']
