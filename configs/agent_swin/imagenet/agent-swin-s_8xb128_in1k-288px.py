# Agent-Swin-S trained and evaluated at 288 (the released agent_swin_s_288 model: 300 epochs from scratch at 288,
# official window 72 of the agent blocks = the whole stage-1 map, window 9 of the Swin blocks, no test crop).
_base_ = ['./agent-swin-s_8xb128_in1k.py', '../../_base_/classification/in1k_pipelines.py']

model = dict(backbone=dict(pretrain_img_size=288, window_size=9))
train_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_288_nocrop.train}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_288_nocrop.test}}))
test_dataloader = val_dataloader
