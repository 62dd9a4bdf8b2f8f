# Agent-PVT-M trained and evaluated at 256 (the released agent_pvt_m_256 model: 300 epochs from scratch at 256,
# position parameters sized for 256; test: short edge to 292, centre crop 256, ratio 0.875).
_base_ = ['./agent-pvt-m_8xb128_in1k.py', '../../_base_/classification/in1k_pipelines.py']

model = dict(backbone=dict(pretrain_img_size=256))
train_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_256.train}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_256.test}}))
test_dataloader = val_dataloader
