# Agent-PVT-S + RetinaNet, 3x with multi-scale training: mmagent baseline, no published counterpart. mmdet's
# multi-scale 3x setting (shorter side 640-800, 36 epochs, steps 27/33) with the PVT optimizer.
_base_ = ['./retinanet_agent-pvt-s_fpn_1x_coco.py', '../_base_/schedules/step_3x.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.ms_detection_pipeline}}))
train_cfg = dict(max_epochs={{_base_.max_epochs_3x}})
param_scheduler = {{_base_.param_scheduler_3x}}
