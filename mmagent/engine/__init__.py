from .data_checks import DatasetConfigError, check_datasets
from .hooks import RankConsistencyHook, weights_digest
from .optim_wrapper import CPUAutocastOptimWrapper
from .runner import MMAgentRunner, find_resumable_checkpoint, init_cpu_distributed
from .runner_setup import convert_sync_bn, enable_amp, load_config, prepare_config, task_of

__all__ = [
    'CPUAutocastOptimWrapper', 'DatasetConfigError', 'MMAgentRunner', 'check_datasets', 'RankConsistencyHook', 'convert_sync_bn', 'enable_amp',
    'find_resumable_checkpoint', 'init_cpu_distributed', 'load_config', 'prepare_config', 'task_of', 'weights_digest'
]
