from .agent_cswin import AgentCSwinTransformer
from .agent_pvt import AgentPVT
from .agent_swin import AgentSwinTransformer
from .base import BackboneBase
from .flatten_cswin import FLattenCSwinTransformer
from .flatten_pvt import FLattenPVT
from .flatten_pvtv2 import FLattenPVTv2
from .flatten_swin import FLattenSwinTransformer
from .lavit import LaViT
from .lavit_classifier import LaViTClassifier

__all__ = [
    'BackboneBase', 'AgentSwinTransformer', 'AgentPVT', 'AgentCSwinTransformer', 'FLattenSwinTransformer',
    'FLattenCSwinTransformer', 'FLattenPVT', 'FLattenPVTv2', 'LaViT',
    'LaViTClassifier', 'BACKBONES', 'OFFICIAL_FAMILIES'
]

# Every backbone, by family name: mmagent.create_backbone('<family>_<arch>') and the test harness use it.
BACKBONES = {cls.family: cls for cls in (AgentSwinTransformer, AgentPVT, AgentCSwinTransformer, FLattenSwinTransformer,
                                         FLattenPVT, FLattenPVTv2, FLattenCSwinTransformer, LaViT)}
# Backbones that official checkpoints exist for (tools/model_converters/convert_official.py).
OFFICIAL_FAMILIES = {name: cls for name, cls in BACKBONES.items() if cls.checkpoint_layout in ('swin', 'pvt', 'pvtv2', 'cswin')}
