"""Parser for the per-stage attention layout strings shared by the Agent and FLatten backbones.

Grammar (docs/design/skeletons.md)::

    layout := L1 L2 L3 L4 [k]      Li in {X, Y, M}, k = decimal digits

``X`` is the family's efficient attention (``A`` for Agent, ``L`` for FLatten), ``Y`` the host
architecture's own attention (``B`` / ``S``), and ``M`` a mixed stage whose first ``k`` blocks are ``X``
and the rest ``Y``. ``AAMB2`` therefore means: stage 1 A, stage 2 A, stage 3 blocks 0-1 A then B, stage 4 B.
"""
import re
from typing import List, Sequence


def parse_layout(layout: str, depths: Sequence[int], efficient: str, host: str) -> List[List[str]]:
    """Expand ``layout`` into one letter per block: ``[[letter for block] for stage]``.

    Args:
        layout: the layout string, e.g. ``'AAMB2'``.
        depths: number of blocks of each stage.
        efficient: letter of the family's attention (``'A'`` or ``'L'``).
        host: letter of the host attention (``'B'`` or ``'S'``).

    Raises:
        ValueError: naming what is wrong (unknown letter, ``M`` without digits, digits without ``M``,
            k larger than the depth of an ``M`` stage, wrong number of stages).
    """
    if not isinstance(layout, str):
        raise TypeError(f'attn_type must be a string such as {efficient * 2}{host * 2}, got {layout!r}')
    num_stages = len(depths)
    letters = f'{efficient}{host}M'
    match = re.fullmatch(r'([A-Za-z]{%d})(\d*)' % num_stages, layout)
    if match is None:
        raise ValueError(
            f'attn_type {layout!r} is not {num_stages} stage letters from {{{", ".join(letters)}}} '
            f'optionally followed by the number of {efficient} blocks of the M stages (e.g. '
            f'{efficient * 2}M{host}2)')
    stage_letters, digits = match.groups()
    unknown = sorted(set(stage_letters) - set(letters))
    if unknown:
        raise ValueError(f'attn_type {layout!r} has unknown stage letter(s) {unknown}; '
                         f'valid letters are {efficient} (efficient attention), {host} (host attention) and '
                         f'M (mixed, followed by digits)')
    has_mixed = 'M' in stage_letters
    if has_mixed and not digits:
        raise ValueError(f'attn_type {layout!r} has an M stage but no digits giving how many of its '
                         f'blocks use {efficient}, e.g. {stage_letters}2')
    if digits and not has_mixed:
        raise ValueError(f'attn_type {layout!r} has trailing digits {digits!r} but no M stage')
    num_mixed = int(digits) if digits else 0

    blocks: List[List[str]] = []
    for stage, (letter, depth) in enumerate(zip(stage_letters, depths)):
        if letter == 'M':
            if num_mixed > depth:
                raise ValueError(f'attn_type {layout!r}: stage {stage + 1} is mixed with {num_mixed} '
                                 f'{efficient} blocks but has only {depth} blocks')
            blocks.append([efficient if i < num_mixed else host for i in range(depth)])
        else:
            blocks.append([letter] * depth)
    return blocks
