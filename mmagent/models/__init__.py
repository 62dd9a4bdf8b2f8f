from .api import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .roi import *  # noqa: F401,F403
from .wrappers import *  # noqa: F401,F403
