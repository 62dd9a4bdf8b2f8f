from .checkpoint import (CheckpointError, extract_state_dict, load_checkpoint_file, register_safe_globals,
                         safe_globals)
from .config import load_config, resolve_config_path
from .download import fetch_checkpoint, sha256_of, verify_sha256

__all__ = [
    'CheckpointError', 'extract_state_dict', 'fetch_checkpoint', 'load_checkpoint_file', 'load_config',
    'register_safe_globals', 'resolve_config_path', 'safe_globals', 'sha256_of', 'verify_sha256'
]
