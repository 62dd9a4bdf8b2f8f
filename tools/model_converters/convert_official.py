"""Convert an official Agent-Attention / FLatten ImageNet checkpoint to an mmagent backbone state dict.

    python tools/model_converters/convert_official.py SRC DST [--family agent_swin|agent_pvt|agent_cswin|
                                                                       flatten_swin|flatten_pvt|flatten_pvtv2|
                                                                       flatten_cswin]
                                                              [--arch t|s|m|b|l|b0..b4]

The file is read without executing pickled code (its yacs config is read as plain data). The classifier,
the final classification norm (not PVTv2's, whose ``norm4`` is a stage norm) and the Swin ``attn_mask`` buffers
are dropped by exact key; the result is then loaded into the mmagent backbone, and any key difference other
than the expected ones (the output norms ``norm0..3`` that mmagent adds to the Swin and CSwin backbones) stops
the conversion. Family and size are detected
from the keys and shapes when not given.

Backbones also accept the official file directly (``init_cfg=dict(type='Pretrained', checkpoint=SRC)``);
converting once makes later loads quicker and records what was dropped.
"""
import argparse
import os
import sys

import torch

import mmagent
from mmagent.models.backbones import OFFICIAL_FAMILIES
from mmagent.models.converters import convert_official_state_dict, load_converted
from mmagent.utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from mmagent.utils.download import sha256_of


def detect_family(state_dict) -> str:
    if any(k.startswith('layers.') for k in state_dict):
        layout = 'swin'
    elif any(k.startswith('stage1_conv_embed.') for k in state_dict):  # CSwin's convolutional stem
        layout = 'cswin'
    elif any('.mlp.dwconv.dwconv.' in k for k in state_dict):  # PVTv2's convolutional MLP
        layout = 'pvtv2'
    else:
        layout = 'pvt'
    if any(k.endswith('.an_bias') for k in state_dict):
        return f'agent_{layout}'
    if any(k.endswith('.positional_encoding') for k in state_dict):
        return f'flatten_{layout}'
    raise CheckpointError('cannot tell the family: the checkpoint has neither agent biases (an_bias) nor '
                          'focused-linear positional encodings; pass --family')


def convert(src: str, family: str = None, arch: str = None):
    """Returns (converted state dict, family, arch, dropped keys, missing keys)."""
    state_dict = extract_state_dict(load_checkpoint_file(src), f"checkpoint '{src}'")
    family = family or detect_family(state_dict)
    if family not in OFFICIAL_FAMILIES:
        raise ValueError(f'unknown family {family!r}; choose from {sorted(OFFICIAL_FAMILIES)}')
    cls = OFFICIAL_FAMILIES[family]
    converted, dropped = convert_official_state_dict(state_dict, cls.checkpoint_layout)
    errors = []
    for candidate in ([arch] if arch else list(cls.arch_zoo)):
        model = cls(arch=candidate)
        try:
            report = load_converted(model, converted, model.keys_added_on_purpose(), f"checkpoint '{src}'")
        except CheckpointError as error:
            errors.append(f'  arch {candidate!r}: {error}')
            continue
        return converted, family, candidate, dropped, report['missing']
    raise CheckpointError(f'{src} does not fit any {cls.__name__} arch:\n' + '\n'.join(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (.pth as released)')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--family', choices=sorted(OFFICIAL_FAMILIES), help='detected when omitted')
    parser.add_argument('--arch', help='detected when omitted')
    args = parser.parse_args()
    try:
        converted, family, arch, dropped, missing = convert(args.src, args.family, args.arch)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    meta = dict(source=args.src, family=family, arch=arch, dropped=dropped, mmagent_version=mmagent.__version__)
    torch.save(dict(state_dict=converted, meta=meta), args.dst)
    print(f'{family} arch {arch!r}: {len(converted)} tensors written to {args.dst}')
    print(f'  dropped ({len(dropped)}): {", ".join(dropped) or "-"}')
    print(f'  new in mmagent, default init ({len(missing)}): {", ".join(missing) or "-"}')
    # The digests let a user check the download and publish the result as OpenMMLab does, name-<8 hex>.pth,
    # which init_cfg=dict(type='Pretrained', checkpoint='https://...') then verifies.
    print(f'  sha256 of the source: {sha256_of(args.src)}')
    digest = sha256_of(args.dst)
    stem, ext = os.path.splitext(os.path.basename(args.dst))
    print(f'  sha256 of the output: {digest} (published as {stem}-{digest[:8]}{ext or ".pth"}, it is verified on '
          f'download)')


if __name__ == '__main__':
    main()
