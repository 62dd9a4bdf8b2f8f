from .separable_roi_align import (SeparableRoIAlign, SeparableRoIExtractor, axis_sampling_weights,
                                  separable_roi_align)

__all__ = ['SeparableRoIAlign', 'SeparableRoIExtractor', 'axis_sampling_weights', 'separable_roi_align']
