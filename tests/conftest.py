import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import mmagent  # noqa: F401  (registers the modules)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The official reference outputs live beside the checkout (../shared/reference), in CI as here.
REFERENCE_DIR = os.environ.get('MMAGENT_REFERENCE_DIR', osp.join(REPO_ROOT, '..', 'shared', 'reference'))


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: full-size models (param counts, FLOPs, equivalence); run by make test')


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope='session')
def reference_dir():
    if not osp.isdir(REFERENCE_DIR):
        pytest.skip(f'official reference outputs not found at {osp.abspath(REFERENCE_DIR)} '
                    f'(set MMAGENT_REFERENCE_DIR); equivalence tests skipped')
    return REFERENCE_DIR


def load_reference(reference_dir, name):
    path = osp.join(reference_dir, f'{name}.pth')
    if not osp.exists(path):
        pytest.skip(f'reference file {path} is missing; equivalence test skipped')
    return torch.load(path, weights_only=True)


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """A tiny generated dataset (8 train / 4 val images) in COCO and ADE20K layouts."""
    root = tmp_path_factory.mktemp('demo_data')
    subprocess.run([sys.executable, 'tools/make_demo_data.py', '--out', str(root), '--num-train', '8', '--num-val',
                    '4', '--min-size', '96', '--max-size', '128'], cwd=REPO_ROOT, check=True, capture_output=True)
    return str(root)
