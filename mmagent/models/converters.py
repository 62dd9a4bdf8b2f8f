"""Official checkpoint -> mmagent state dict, with every missing and unexpected key accounted for.

mmagent keeps the official parameter names and layouts, so conversion only *drops* what the downstream
backbones do not have (docs/design/checkpoints.md):

* ``head.weight``/``head.bias`` (classifier) and the final classification norm ``norm.weight``/``norm.bias``,
  dropped by exact key (a substring match would hit ``norm1``, ``norm{i}`` or ``downsample.norm``);
* ``*.attn_mask`` buffers of the Swin classification models (rebuilt at run time).

After conversion :func:`load_converted` checks the result against the model: the only keys allowed to be
missing are those of modules mmagent adds on purpose (Swin's output norms ``norm0..3``, all present or all
absent) and ``relative_position_index`` buffers (rebuilt at construction); nothing may be unexpected and no
shape may differ. Anything else raises :class:`CheckpointError` listing the offending keys.
"""
from typing import Dict, Iterable, List, Optional, Set, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log

from ..utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from ..utils.download import expected_sha256, fetch_checkpoint, is_url, verify_sha256

__all__ = ['LAYOUT_DROPS', 'convert_official_state_dict', 'load_converted', 'load_pretrained']

# Keys of the official classification checkpoints that no mmagent backbone has, per skeleton layout.
LAYOUT_DROPS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    'swin': dict(exact=('head.weight', 'head.bias', 'norm.weight', 'norm.bias'), suffix=('.attn_mask', )),
    'pvt': dict(exact=('head.weight', 'head.bias', 'norm.weight', 'norm.bias'), suffix=()),
    # CSwin has no stage norms: its final norm goes with the head (mmagent adds norm0..3).
    'cswin': dict(exact=('head.weight', 'head.bias', 'norm.weight', 'norm.bias'), suffix=()),
    # PVTv2's norm1..4 are the backbone's output norms: only the classifier goes.
    'pvtv2': dict(exact=('head.weight', 'head.bias'), suffix=()),
    # mmagent's own LaViT classification checkpoints (no official ones exist): only the head is dropped,
    # the stage norms norm1..4 belong to the backbone.
    'lavit': dict(exact=('head.weight', 'head.bias'), suffix=()),
}
REGENERATED_SUFFIXES = ('relative_position_index', )


def convert_official_state_dict(state_dict: Dict[str, torch.Tensor],
                                layout: str) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Drop the official-only keys of ``layout`` ('swin' or 'pvt'); returns (converted, dropped keys)."""
    if layout not in LAYOUT_DROPS:
        raise ValueError(f'unknown checkpoint layout {layout!r}; expected one of {sorted(LAYOUT_DROPS)}')
    rules = LAYOUT_DROPS[layout]
    converted, dropped = {}, []
    for key, value in state_dict.items():
        if key in rules['exact'] or key.endswith(rules['suffix']):
            dropped.append(key)
        else:
            converted[key] = value
    return converted, dropped


def _preview(keys: Iterable[str], limit: int = 8) -> str:
    keys = sorted(keys)
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def load_converted(model: nn.Module,
                   state_dict: Dict[str, torch.Tensor],
                   added_on_purpose: Set[str],
                   source: str = 'checkpoint',
                   strict: bool = True) -> Dict[str, List[str]]:
    """Load an mmagent-named state dict into ``model`` after checking every key difference.

    Args:
        model: the backbone.
        state_dict: converted weights.
        added_on_purpose: model keys that official checkpoints lack by design (e.g. ``norm0..3``).
        source: name of the file, for messages.
        strict: raise on any unaccounted difference (default); if False, log it and load what fits.

    Returns:
        ``dict(missing=[...], regenerated=[...])``: the accounted-for missing keys.
    """
    own = model.state_dict()
    missing = set(own) - set(state_dict)
    unexpected = set(state_dict) - set(own)
    mismatched = [f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}'
                  for k in sorted(set(own) & set(state_dict)) if state_dict[k].shape != own[k].shape]
    regenerated = {k for k in missing if k.endswith(REGENERATED_SUFFIXES)}
    added_missing = (missing - regenerated) & added_on_purpose
    unaccounted_missing = missing - regenerated - added_on_purpose
    problems = []
    if mismatched:
        problems.append(f'{len(mismatched)} shape mismatch(es) ({"; ".join(mismatched[:6])}'
                        f'{" ..." if len(mismatched) > 6 else ""})')
    if unexpected:
        problems.append(f'{len(unexpected)} unexpected key(s) not in the model: {_preview(unexpected)}')
    if unaccounted_missing:
        problems.append(f'{len(unaccounted_missing)} missing key(s): {_preview(unaccounted_missing)}')
    if added_missing and added_missing != (added_on_purpose & set(own)):
        partial = (added_on_purpose & set(own)) - added_missing
        problems.append(f'only part of the keys mmagent adds on purpose are present (present: '
                        f'{_preview(partial)}; missing: {_preview(added_missing)})')
    name = type(model).__name__
    if problems:
        message = (f'{source} does not fit {name}: ' + '; '.join(problems) +
                   '. Is it a checkpoint of another family or size (check arch / attn_type)?')
        if strict:
            raise CheckpointError(message)
        print_log(message + ' Loading the matching keys only (strict=False).', logger='current', level=30)
        state_dict = {k: v for k, v in state_dict.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(state_dict, strict=False)
    return dict(missing=sorted(added_missing), regenerated=sorted(regenerated))


def load_pretrained(model: nn.Module,
                    checkpoint: str,
                    layout: str,
                    added_on_purpose: Set[str],
                    prefix: Optional[str] = None,
                    strict: bool = True,
                    logger: Optional[MMLogger] = None,
                    sha256: Optional[str] = None) -> Dict[str, List[str]]:
    """``init_cfg=dict(type='Pretrained', checkpoint=...)`` for mmagent backbones.

    Accepts an official ImageNet checkpoint as released (container with a pickled yacs config), a file
    written by ``tools/model_converters/convert_official.py``, or an mmagent/mmdet/mmseg checkpoint with
    ``prefix='backbone.'``. A URL is downloaded into mmengine's checkpoint cache and verified against
    ``sha256`` or the ``-<sha256 prefix>.pth`` suffix of its name (:mod:`mmagent.utils.download`); a local file
    is verified when ``sha256`` is given.
    """
    if is_url(checkpoint):
        checkpoint = fetch_checkpoint(checkpoint, sha256)
    elif sha256 is not None:
        verify_sha256(checkpoint, expected_sha256(checkpoint, sha256), f"checkpoint '{checkpoint}'")
    raw = load_checkpoint_file(checkpoint)
    state_dict = extract_state_dict(raw, f"checkpoint '{checkpoint}'")
    if prefix:
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not state_dict:
            raise CheckpointError(f"checkpoint '{checkpoint}' has no keys with prefix {prefix!r}")
    converted, dropped = convert_official_state_dict(state_dict, layout)
    report = load_converted(model, converted, added_on_purpose, f"checkpoint '{checkpoint}'", strict)
    report['dropped'] = sorted(dropped)
    lines = [f'{type(model).__name__}: loaded {len(converted)} tensors from {checkpoint}']
    if dropped:
        lines.append(f'  dropped (classification-only): {_preview(dropped)}')
    if report['missing']:
        lines.append(f'  not in checkpoint, default init (added by mmagent): {_preview(report["missing"])}')
    if report['regenerated']:
        lines.append(f'  rebuilt buffers: {_preview(report["regenerated"])}')
    print_log('\n'.join(lines), logger=logger or 'current')
    return report
