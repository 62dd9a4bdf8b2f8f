# What every mmagent config adds to the mmdet / mmseg runtime it inherits: the import that registers
# mmagent's modules, and FiniteLossHook, which stops training at the first NaN or infinite loss term with
# the iteration and the terms named, before anything from that iteration is saved.
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
custom_hooks = [dict(type='FiniteLossHook')]
