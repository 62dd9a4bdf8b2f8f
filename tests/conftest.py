import os
import os.path as osp

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
