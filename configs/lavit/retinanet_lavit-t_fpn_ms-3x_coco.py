# LaViT-T + RetinaNet, 3x with multi-scale training (shorter side 640-800, 36 epochs, steps 27/33). The paper's
# 3x recipe is unknown (docs/design/lavit.md): this is mmagent's PVT-family 3x recipe. mmagent interpretation.
_base_ = ['./retinanet_lavit-t_fpn_1x_coco.py', '../_base_/schedules/step_3x.py']

train_dataloader = dict(dataset=dict(pipeline={{_base_.ms_detection_pipeline}}))
train_cfg = dict(max_epochs={{_base_.max_epochs_3x}})
param_scheduler = {{_base_.param_scheduler_3x}}
