# LaViT-T + Mask R-CNN, 3x with multi-scale training (shorter side 640-800, 36 epochs, steps 27/33): the
# mmagent PVT-family 3x recipe. mmagent interpretation of LaViT; no published counterpart.
_base_ = ['./mask-rcnn_lavit-t_fpn_1x_coco.py', '../_base_/schedules/step_3x.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.ms_instance_pipeline}}))
train_cfg = dict(max_epochs={{_base_.max_epochs_3x}})
param_scheduler = {{_base_.param_scheduler_3x}}
