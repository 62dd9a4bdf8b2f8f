from .data_checks import DatasetConfigError, check_datasets
from .data_guard import DataPipelineError, NamedErrorPipeline, error_summary, name_pipeline_errors
from .hooks import FiniteLossHook, NonFiniteLossError, RankConsistencyHook, weights_digest
from .optim_wrapper import CPUAutocastOptimWrapper, CPUAutocastTestLoop, CPUAutocastValLoop
from .runner import (COMPILED_PARTS, CheckpointSaveError, MMAgentRunner, WorkDirError, check_work_dir,
                     close_distributed, find_resumable_checkpoint, init_cpu_distributed)
from .runner_setup import (COMPILE_OPTIONS, convert_sync_bn, enable_amp, enable_compile, enable_test_amp,
                           load_config, prepare_config, task_of)

__all__ = [
    'COMPILE_OPTIONS', 'COMPILED_PARTS', 'CPUAutocastOptimWrapper', 'CPUAutocastTestLoop', 'CPUAutocastValLoop',
    'CheckpointSaveError', 'DataPipelineError', 'DatasetConfigError', 'FiniteLossHook', 'MMAgentRunner',
    'NamedErrorPipeline', 'NonFiniteLossError', 'RankConsistencyHook', 'WorkDirError', 'check_datasets',
    'check_work_dir', 'close_distributed', 'convert_sync_bn', 'enable_amp', 'enable_compile', 'enable_test_amp',
    'error_summary', 'find_resumable_checkpoint', 'init_cpu_distributed', 'load_config', 'name_pipeline_errors',
    'prepare_config', 'task_of', 'weights_digest'
]
