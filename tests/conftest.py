import functools
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import mmagent  # noqa: F401  (registers the modules)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Outputs of the official implementations, shipped with the tests (tests/data/reference/README.md). A folder
# named by MMAGENT_REFERENCE_DIR, or ../shared/reference beside the checkout, may add files made later.
REFERENCE_DIRS = [d for d in (os.environ.get('MMAGENT_REFERENCE_DIR'),
                              osp.join(REPO_ROOT, 'tests', 'data', 'reference'),
                              osp.join(REPO_ROOT, '..', 'shared', 'reference')) if d]


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: full-size models (param counts, FLOPs, equivalence); run by make test')
    _cache_package_metafiles()
    _share_cores_between_workers()


def _share_cores_between_workers():
    """Under pytest-xdist (``make test`` runs one worker per core, at most a few), each worker and the tools it
    starts get their share of the cores: torch's default of every core per process would oversubscribe them."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1:
        threads = max(1, len(os.sched_getaffinity(0)) // workers)
        torch.set_num_threads(threads)
        for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            os.environ[name] = str(threads)


# The tests that use ``train_demo`` runs (tools/train.py once per session for each configuration they share).
TRAIN_DEMO_TESTS = ('tests/test_inference_apis.py::test_inference_apis_load_trained_checkpoints',
                    'tests/test_reliability.py::test_amp_test_tool',
                    'tests/test_reliability.py::test_amp_training_for_every_family',
                    'tests/test_tools.py::test_new_family_trains_and_tests')


def _worker_scope(nodeid: str) -> str:
    """The pytest-xdist work unit of a test: its file, so module-scoped caches (the FLOPs counts of test_flops.py)
    fill once, and one unit for every test in TRAIN_DEMO_TESTS, so each shared training run happens once."""
    return 'train_demo' if nodeid.split('[')[0] in TRAIN_DEMO_TESTS else nodeid.split('::')[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs ``pytest -n N``: tests go to workers by _worker_scope (pytest-xdist's own
    ``--dist loadgroup`` marks do not reach the test ids under pytest 9)."""
    if config.getvalue('dist') not in ('load', 'loadscope'):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByScope(LoadScopeScheduling):

        def _split_scope(self, nodeid: str) -> str:
            return _worker_scope(nodeid)

    return ByScope(config, log)


def pytest_itemcollected(item):
    """TRAIN_DEMO_TESTS must list exactly the tests that use train_demo, or the runs would be repeated."""
    uses = 'train_demo' in getattr(item, 'fixturenames', ())
    if uses != (item.nodeid.split('[')[0] in TRAIN_DEMO_TESTS):
        raise pytest.UsageError(f'{item.nodeid} {"uses" if uses else "does not use"} train_demo: update '
                                f'TRAIN_DEMO_TESTS in tests/conftest.py')


def _cache_package_metafiles():
    """Each ``mmdet::`` / ``mmseg::`` / ``mmpretrain::`` base a config names makes mmengine parse every
    metafile.yml of that package again (about 0.6 s); this process parses a few hundred configs. The files do not
    change during a run and mmengine only reads the parsed result, so the parse is done once per file."""
    from mmengine.config import utils
    load = utils.load
    parsed = functools.lru_cache(maxsize=None)(load)
    utils.load = lambda file, *args, **kwargs: (parsed(file) if isinstance(file, str) and not args and not kwargs
                                                else load(file, *args, **kwargs))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_leftover_default_scope():
    """A runner (or init_default_scope) creates a process-wide mmengine DefaultScope, and the newest one is the
    scope every later registry build switches to: a runner built with the 'mmengine' scope would make
    ``MMDET_MODELS.build`` look in mmengine's root registry. Each test gets back the scopes it started with, so
    the outcome does not depend on which tests ran before it in the same worker."""
    from mmengine.registry import DefaultScope
    scopes = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(scopes)


@pytest.fixture(scope='session')
def reference_dir():
    """The folders searched for reference files, first match wins (the shipped one is always there)."""
    return [d for d in REFERENCE_DIRS if osp.isdir(d)]


def load_reference(reference_dirs, name):
    for folder in reference_dirs:
        path = osp.join(folder, f'{name}.pth')
        if osp.exists(path):
            return torch.load(path, weights_only=True)
    raise FileNotFoundError(f'reference file {name}.pth is in none of {reference_dirs}: the shipped copies '
                            f'live in tests/data/reference')


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """A tiny generated dataset (8 train / 4 val images) in COCO and ADE20K layouts."""
    root = tmp_path_factory.mktemp('demo_data')
    subprocess.run([sys.executable, 'tools/make_demo_data.py', '--out', str(root), '--num-train', '8', '--num-val',
                    '4', '--min-size', '96', '--max-size', '128'], cwd=REPO_ROOT, check=True, capture_output=True)
    return str(root)


@pytest.fixture(scope='session')
def train_demo(tmp_path_factory):
    """``train_demo(config, options, *flags) -> (work_dir, log)``: ``tools/train.py`` run once per session for
    each (config, --cfg-options, flags); the tests that need a trained demo checkpoint share the run."""
    runs = {}

    def train(config, options, *flags):
        key = (config, tuple(options), flags)
        if key not in runs:
            work = str(tmp_path_factory.mktemp('train'))
            result = subprocess.run([sys.executable, 'tools/train.py', config, *flags, '--work-dir', work,
                                     '--cfg-options', *options], cwd=REPO_ROOT, capture_output=True, text=True)
            log = result.stdout + result.stderr
            assert result.returncode == 0, log[-4000:]
            runs[key] = (work, log)
        return runs[key]

    return train
