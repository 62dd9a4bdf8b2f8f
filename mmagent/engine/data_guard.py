"""Per-sample data errors that name the sample.

A transform that fails deep inside a dataloader worker (an undecodable file, an image too thin for a flip,
an annotation a transform cannot handle) raises a bare ``KeyError: 'mask'`` or an OpenCV assertion that
names neither the file nor the step. :class:`MMAgentRunner` wraps the pipeline of every dataset it builds in
:class:`NamedErrorPipeline`, which runs the same transforms in the same order and re-raises any failure as a
:class:`DataPipelineError` naming the image (or segmentation map) file, the transform and the original error.
"""
from typing import Any, Callable, Optional

__all__ = ['DataPipelineError', 'NamedErrorPipeline', 'error_summary', 'name_pipeline_errors']


class DataPipelineError(RuntimeError):
    """A sample could not be loaded or transformed; the message names the file, the step and the cause."""


def _describe(sample: Any) -> str:
    if not isinstance(sample, dict):
        return f'a sample of type {type(sample).__name__}'
    for key in ('img_path', 'seg_map_path', 'filename'):
        if sample.get(key):
            where = f"'{sample[key]}'"
            size = (sample.get('height'), sample.get('width'))
            return where + (f' ({size[0]}x{size[1]} in the annotations)' if all(s is not None for s in size) else '')
    return f"sample {sample.get('sample_idx', '?')}"


class NamedErrorPipeline:
    """Runs ``pipeline.transforms`` exactly as mmengine's ``Compose`` does (stop at the first ``None``)."""

    def __init__(self, pipeline: Callable, phase: str) -> None:
        self.pipeline = pipeline
        self.transforms = getattr(pipeline, 'transforms', None)
        self.phase = phase

    def __call__(self, data: dict) -> Optional[dict]:
        if self.transforms is None:
            return self._run(self.pipeline, data, data)
        original = data
        for transform in self.transforms:
            data = self._run(transform, data, original)
            if data is None:
                return None
        return data

    def _run(self, transform: Callable, data: Any, original: Any) -> Any:
        try:
            return transform(data)
        except DataPipelineError:
            raise
        except Exception as error:
            name = type(transform).__name__
            raise DataPipelineError(f'{self.phase} data: {_describe(original)} failed in {name}: '
                                    f'{type(error).__name__}: {str(error).strip() or repr(error)}') from error

    def __repr__(self) -> str:
        return f'NamedErrorPipeline({self.pipeline!r})'


def name_pipeline_errors(dataset: Any, phase: str) -> int:
    """Wrap the pipeline of ``dataset`` and of every dataset it wraps; returns how many were wrapped."""
    wrapped = 0
    pipeline = getattr(dataset, 'pipeline', None)
    if callable(pipeline) and not isinstance(pipeline, NamedErrorPipeline):
        dataset.pipeline = NamedErrorPipeline(pipeline, phase)
        wrapped += 1
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and inner is not dataset:
        wrapped += name_pipeline_errors(inner, phase)
    for child in getattr(dataset, 'datasets', None) or []:
        wrapped += name_pipeline_errors(child, phase)
    return wrapped


def error_summary(error: BaseException) -> str:
    """The message of ``error`` without the worker traceback a DataLoader worker prepends when it re-raises."""
    text = str(error)
    if 'Original Traceback' in text:
        last = [line for line in text.strip().splitlines() if line.strip()][-1]
        prefix = f'{type(error).__module__}.{type(error).__name__}: '
        return last[len(prefix):] if last.startswith(prefix) else last
    return text
