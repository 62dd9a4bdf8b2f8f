# Agent-CSwin-B at 384: evaluation of the released 384 checkpoint, in its geometry (stripes 1-2-12-12 and position parameters sized for 384 (official la_split_size 96-48-24-12)); whole image resized
# to 384, no crop. tools/test.py THIS_CONFIG official_384.pth
_base_ = ['./agent-cswin-b_8xb128_in1k.py', '../../_base_/classification/in1k_pipelines.py']

model = dict(backbone=dict(pretrain_img_size=384, split_sizes=(1, 2, 12, 12)))
train_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_384_nocrop.train}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_384_nocrop.test}}))
test_dataloader = val_dataloader
