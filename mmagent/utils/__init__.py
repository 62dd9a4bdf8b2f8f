from .checkpoint import (CheckpointError, extract_state_dict, load_checkpoint_file, register_safe_globals,
                         safe_globals)

__all__ = ['CheckpointError', 'extract_state_dict', 'load_checkpoint_file', 'register_safe_globals', 'safe_globals']
