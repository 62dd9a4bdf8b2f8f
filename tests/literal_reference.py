"""Plain, literal transcriptions of the math in docs/design/, for tests only.

Nothing here is shared with mmagent: resizes and pooling are written as explicit interpolation matrices
(PyTorch's ``align_corners=False`` convention, spec notation Up_(s)), everything runs in float64.
"""
import math

import torch


def bilinear_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of 1-D linear interpolation, align_corners=False, source clamped at 0."""
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    scale = n_in / n_out
    for i in range(n_out):
        src = max((i + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        w1 = src - i0
        m[i, i0] += 1 - w1
        m[i, i1] += w1
    return m


def resize2d(t: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of the last two axes with explicit matrices."""
    mh = bilinear_matrix(t.shape[-2], size[0])
    mw = bilinear_matrix(t.shape[-1], size[1])
    return torch.einsum('ab,...bc,dc->...ad', mh, t.double(), mw)


def adaptive_pool_matrix(n_in: int, n_out: int) -> torch.Tensor:
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        start = (i * n_in) // n_out
        end = -((-(i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def agent_attention(x, hw, p, heads, pool, agent_shape, layout='qkv', scale_exp=-0.5):
    """docs/design/agent_attention.md (operator and position biases), step by step. ``p``: dict of the op's parameters."""
    x = x.double()
    p = {k: v.double() for k, v in p.items()}
    b, n, c = x.shape
    h_, w_ = hw
    d = c // heads
    s = d**scale_exp
    if layout == 'qkv':
        qkv = x @ p['qkv.weight'].T + p['qkv.bias']
        q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
    else:
        q = x @ p['q.weight'].T + p['q.bias']
        kv = x @ p['kv.weight'].T + p['kv.bias']
        k, v = kv[..., :c], kv[..., c:]
    # 2. agents: adaptive average pooling of Q laid out as (B, C, H, W), flattened row-major
    a_h, a_w = agent_shape
    q_map = q.transpose(1, 2).reshape(b, c, h_, w_)
    agents = torch.einsum('ih,bchw,jw->bcij', adaptive_pool_matrix(h_, a_h), q_map,
                          adaptive_pool_matrix(w_, a_w)).reshape(b, c, -1).transpose(1, 2)

    def split(t):
        return t.reshape(b, t.shape[1], heads, d).transpose(1, 2)

    qh, kh, vh, ah = split(q), split(k), split(v), split(agents)
    # biases: token axes resized to (H, W), then the P x P agent axis to (a_h, a_w)
    t1 = resize2d(p['an_bias'], hw) + resize2d((p['ah_bias'] + p['aw_bias'])[0], hw)  # h, n, H, W
    t2 = resize2d(p['na_bias'], hw) + resize2d((p['ha_bias'] + p['wa_bias'])[0].permute(0, 3, 1, 2), hw)

    def agent_axis(t):  # (h, P*P, H, W) -> (h, a_h*a_w, H*W)
        t = t.reshape(heads, pool, pool, h_ * w_)
        t = torch.einsum('ip,hpqn,jq->hijn', bilinear_matrix(pool, a_h), t, bilinear_matrix(pool, a_w))
        return t.reshape(heads, a_h * a_w, h_ * w_)

    b1 = agent_axis(t1)  # h, n', N
    b2 = agent_axis(t2).transpose(1, 2)  # h, N, n'
    s1 = torch.softmax(s * ah @ kh.transpose(-2, -1) + b1, dim=-1)
    va = s1 @ vh
    s2 = torch.softmax(s * qh @ ah.transpose(-2, -1) + b2, dim=-1)
    o = (s2 @ va).transpose(1, 2).reshape(b, n, c)
    v_map = v.transpose(1, 2).reshape(b, c, h_, w_)
    dwc = torch.nn.functional.conv2d(v_map, p['dwc.weight'], p['dwc.bias'], padding=p['dwc.weight'].shape[-1] // 2,
                                     groups=c)
    o = o + dwc.flatten(2).transpose(1, 2)
    return o @ p['proj.weight'].T + p['proj.bias']


def focused_linear_attention(x, hw, p, heads, pretrain_hw, power=3, layout='qkv', pe_mode='bicubic'):
    """docs/design/flatten_attention.md, the mean / N^-1/2 form with its 1e-6."""
    x = x.double()
    p = {k: v.double() for k, v in p.items()}
    b, n, c = x.shape
    h_, w_ = hw
    d = c // heads
    if layout == 'qkv':
        qkv = x @ p['qkv.weight'].T + p['qkv.bias']
        q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
    else:
        q = x @ p['q.weight'].T + p['q.bias']
        kv = x @ p['kv.weight'].T + p['kv.bias']
        k, v = kv[..., :c], kv[..., c:]
    pe = p['positional_encoding']
    if tuple(hw) != tuple(pretrain_hw):
        grid = pe.reshape(1, *pretrain_hw, c).permute(0, 3, 1, 2)
        if pe_mode == 'bilinear':
            grid = resize2d(grid, hw)
        else:
            grid = torch.nn.functional.interpolate(grid, size=hw, mode='bicubic', align_corners=False)
        pe = grid.flatten(2).transpose(1, 2)
    k = k + pe
    divisor = torch.nn.functional.softplus(p['scale'])

    def phi(t):
        t2 = (torch.relu(t) + 1e-6) / divisor
        t3 = t2**power
        return t3 * t2.norm(dim=-1, keepdim=True) / t3.norm(dim=-1, keepdim=True)

    def split(t):
        return t.reshape(b, n, heads, d).transpose(1, 2)

    qh, kh, vh = split(phi(q)), split(phi(k)), split(v)
    z = 1 / (qh @ kh.mean(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
    m = (kh / n**0.5).transpose(-2, -1) @ (vh / n**0.5)
    o = ((qh @ m) * z).transpose(1, 2).reshape(b, n, c)
    # DWC: one (d, 1, k, k) depthwise kernel applied to every head's V map
    v_maps = vh.reshape(b * heads, n, d).transpose(1, 2).reshape(b * heads, d, h_, w_)
    ksize = p['dwc.weight'].shape[-1]
    dwc = torch.nn.functional.conv2d(v_maps, p['dwc.weight'], p['dwc.bias'], padding=ksize // 2, groups=d)
    o = o + dwc.reshape(b, c, n).transpose(1, 2)
    return o @ p['proj.weight'].T + p['proj.bias']
