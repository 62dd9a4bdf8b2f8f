# Agent-Swin-T + Cascade Mask R-CNN, 3x (official agent_swin_t_crcnn_3x_9-12-14-7.py): the 1x recipe for 36
# epochs (steps 27, 33).
_base_ = ['./cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py', '../_base_/schedules/step_3x.py']

train_cfg = dict(max_epochs={{_base_.max_epochs_3x}})
param_scheduler = {{_base_.param_scheduler_3x}}
