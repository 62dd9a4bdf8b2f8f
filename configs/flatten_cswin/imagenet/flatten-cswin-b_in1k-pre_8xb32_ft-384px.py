# FLatten-CSwin-B fine-tuned from the 224 checkpoint to 384 images with the official fine-tuning schedule
# (configs/_base_/classification/finetune_384.py); set load_from to the official or an mmagent 224 checkpoint
# (official files load as released). Unlike the official 384 models, the 224 geometry is kept and its position
# parameters are resized at run time (as in detection and segmentation), so any 224 checkpoint loads unchanged;
# evaluate the result with this config, not with flatten-cswin-b_in1k-384px.
_base_ = [
    './flatten-cswin-b_8xb128_in1k.py',
    '../../_base_/classification/in1k_pipelines.py',
    '../../_base_/classification/finetune_384.py',
]

load_from = 'checkpoints/flatten_cswin_b.pth'
train_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_384_nocrop.train}}), batch_size=32)
val_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_384_nocrop.test}}), batch_size=32)
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer={{_base_.finetune_384_cswin.optimizer}})
param_scheduler = {{_base_.finetune_384_cswin.param_scheduler}}
train_cfg = dict(max_epochs={{_base_.finetune_384_cswin.max_epochs}})
model = dict(backbone=dict(drop_path_rate=0.7))
auto_scale_lr = dict(base_batch_size=256)
