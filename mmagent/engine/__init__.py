from .optim_wrapper import CPUAutocastOptimWrapper
from .runner_setup import convert_sync_bn, enable_amp, load_config, prepare_config, task_of

__all__ = ['CPUAutocastOptimWrapper', 'convert_sync_bn', 'enable_amp', 'load_config', 'prepare_config', 'task_of']
