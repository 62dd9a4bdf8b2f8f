# Agent-CSwin-B + Mask R-CNN, ms-3x: the 1x recipe for 36 epochs (CSWin reports its Mask R-CNN at 3x).
_base_ = ['./mask-rcnn_agent-cswin-b_fpn_1x_coco.py', '../_base_/schedules/step_3x.py']

train_cfg = dict(max_epochs={{_base_.max_epochs_3x}})
param_scheduler = {{_base_.param_scheduler_3x}}
