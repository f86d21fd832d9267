"""AASIST and AASIST-L (Jung et al., ICASSP 2022), written for this project.

The module tree and parameter names match the official clovaai/aasist checkpoints, so
``model.load_state_dict(torch.load("AASIST-L.pth"), strict=True)`` works, and in eval mode
the logits agree with the official implementation to float32 rounding.
Official behaviours that the checkpoints were trained with are reproduced, not "fixed":

* each residual block's first convolution reads the block *input*; the official code
  computes ``selu(bn1(x))`` and throws it away, so ``bn1`` exists (for the state_dict) but
  is skipped here — it never influenced the output;
* in the heterogeneous graph layer one weight (``att_weight12``) scores both cross-type
  blocks of the attention map;
* the learnable master node enters the first heterogeneous layer un-projected;
* graph pooling multiplies nodes by their sigmoid score before gathering the top-k;
* the sinc front end is a fixed (not learned) mel-spaced band-pass filterbank.

Shapes below: B batch, L samples, C channels, F frequency rows, T time steps, N nodes.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import pretrained, runtime
from .config import load_config
from .errors import ConfigError, DataError
from .melscale import hz_to_mel, mel_to_hz

PathLike = Union[str, "os.PathLike[str]"]

N_POOLING_STAGES = 7  # one 3x max-pool after the sinc layer and one per residual block


def sinc_filterbank(n_filters: int, kernel_size: int, sample_rate: int = 16000) -> torch.Tensor:
    """Fixed band-pass filters with mel-spaced edges, Hamming-windowed: (n_filters, kernel_size).

    The band edges split the mel range of a 512-point FFT's bins evenly. The arithmetic
    follows the official precision path (float32 support and sinc argument, float64 band
    gains, float32 window product) so that official weights see bit-comparable filters.
    """
    freqs = (sample_rate // 2) * np.linspace(0, 1, 512 // 2 + 1)
    mels = hz_to_mel(freqs)
    edges = mel_to_hz(np.linspace(mels.min(), mels.max(), n_filters + 1))
    support = torch.arange(-(kernel_size - 1) / 2, (kernel_size - 1) / 2 + 1)  # float32
    window = torch.from_numpy(np.hamming(kernel_size)).float()
    bank = torch.zeros(n_filters, kernel_size)
    for i, (f_lo, f_hi) in enumerate(zip(edges[:-1], edges[1:])):
        # Ideal band-pass = low-pass at f_hi minus low-pass at f_lo.
        high = (2 * f_hi / sample_rate) * np.sinc((support * float(2 * f_hi) / sample_rate).numpy())
        low = (2 * f_lo / sample_rate) * np.sinc((support * float(2 * f_lo) / sample_rate).numpy())
        bank[i] = window * torch.from_numpy(high - low).float()
    return bank


class SincConv(nn.Module):
    """Fixed sinc filterbank applied to raw audio: (B, L) -> (B, n_filters, L - K + 1).

    No parameters (the official checkpoints hold none for it). ``mask=True`` zeroes a
    random run of 0-19 adjacent bands (the official "freq_aug" training augmentation).
    """

    def __init__(self, out_channels: int, kernel_size: int, sample_rate: int = 16000):
        super().__init__()
        self.out_channels = out_channels
        self.kernel_size = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size
        bank = sinc_filterbank(out_channels, self.kernel_size, sample_rate)
        self.register_buffer("band_pass", bank.unsqueeze(1), persistent=False)

    def forward(self, x: torch.Tensor, mask: bool = False) -> torch.Tensor:
        filters = self.band_pass
        if mask:
            width = int(np.random.uniform(0, 20))
            start = random.randint(0, self.out_channels - width)
            filters = filters.clone()
            filters[start:start + width] = 0
        return F.conv1d(x.unsqueeze(1), filters.to(x.dtype))


def _conv_one_channel(x: torch.Tensor, conv: nn.Conv2d, layout: torch.memory_format) -> torch.Tensor:
    """``conv(x)`` for a 1-input-channel convolution, without oneDNN's 1-channel kernels.

    oneDNN runs 1-channel 2-D convolutions at a few GFLOP/s. Stacking the kh*kw shifted copies
    of the (small) input turns the layer into a (kh*kw -> C) product: in channels_last a 1x1
    convolution (oneDNN's fastest form here, forward and backward), in the default layout a
    batched GEMM. x: (B, 1, H, W) -> (B, C, H', W') in ``layout``; the encoder keeps it.
    """
    kh, kw = conv.kernel_size
    ph, pw = conv.padding
    xp = F.pad(x[:, 0], (pw, pw, ph, ph))  # (B, H + 2 ph, W + 2 pw)
    h_out, w_out = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    shifts = [xp[:, i:i + h_out, j:j + w_out] for i in range(kh) for j in range(kw)]
    if layout == torch.channels_last:
        cols = torch.stack(shifts, dim=1).contiguous(memory_format=layout)  # (B, K, H', W')
        weight = conv.weight.reshape(conv.out_channels, kh * kw, 1, 1)
        return F.conv2d(cols, weight, conv.bias)
    weight = conv.weight.reshape(conv.out_channels, kh * kw)
    cols = torch.stack(shifts, dim=1).flatten(2)  # (B, K, H' W')
    out = torch.baddbmm(conv.bias[:, None], weight.expand(len(cols), -1, -1), cols)  # (B, C, H' W')
    return out.view(len(cols), -1, h_out, w_out)


def selu_(x: torch.Tensor) -> torch.Tensor:
    """SELU, in place where autograd allows; the implementation `runtime.selu_kernel` picked.

    Some PyTorch builds run SELU's expm1 several times slower than exp (the torch 2.14.1
    wheel with AVX-512); there ``exp(min(x, 0)) - 1`` is faster and differs by float rounding.
    """
    if runtime.selu_kernel() == "torch":
        return F.selu(x, inplace=True)
    return _SeluFromExp.apply(x)


class _SeluFromExp(torch.autograd.Function):
    """SELU as scale * max(x, 0) + scale * alpha * (exp(min(x, 0)) - 1), in place on ``x``
    (one large buffer fewer: these activations are the model's largest tensors); backward
    from the output, so ``x`` is not kept."""

    @staticmethod
    def forward(ctx, x):
        neg = torch.clamp(x, max=0).exp_().sub_(1).mul_(_SELU_ALPHA * _SELU_SCALE)
        y = x.clamp_(min=0).mul_(_SELU_SCALE).add_(neg)
        ctx.mark_dirty(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        # dy/dx = scale for x > 0, else scale * alpha * exp(x) = y + scale * alpha: ELU's
        # backward from its result, one fused kernel (F.selu's own backward)
        return torch.ops.aten.elu_backward(grad, _SELU_ALPHA, _SELU_SCALE, 1.0, True, y)


_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717


def _stem_pool(x: torch.Tensor) -> torch.Tensor:
    """``max_pool2d(|x|, (3, 3))`` of the sinc output: (B, F, L) -> (B, 1, F // 3, L // 3).

    PyTorch's 2-D max-pool on a 1-channel input runs a scalar loop (about 80 ms for a batch
    of 8 x 4 s). Without gradients, the maximum over 3 adjacent bands (whole rows, so
    vectorised) followed by a 1-D max-pool over time gives the same values about 4x faster.
    The input needs no gradient in training either: the filterbank is fixed.
    """
    if x.requires_grad:  # e.g. gradients with respect to the waveform: the official op
        return F.max_pool2d(x.abs().unsqueeze(1), (3, 3))
    a = x.abs_()
    n = a.shape[1] // 3 * 3
    bands = torch.maximum(a[:, 0:n:3], a[:, 1:n:3])
    bands = torch.maximum(bands, a[:, 2:n:3], out=bands)  # (B, F // 3, L)
    return F.max_pool1d(bands, 3).unsqueeze(1)


def _max_pool_time(x: torch.Tensor) -> torch.Tensor:
    """Max-pool by 3 along the last axis: (B, C, F, T) -> (B, C, F, T // 3).

    Same values and gradients as ``nn.MaxPool2d((1, 3))``, whatever the memory layout;
    each layout gets the kernel that is fast for it.
    """
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    if x.requires_grad:
        # channels_last: PyTorch's kernel vectorises over channels and its backward is a
        # cheap scatter. Default layout: its forward runs a scalar loop, ~2.5x slower.
        return F.max_pool2d(x, (1, 3)) if channels_last else _MaxPoolTime.apply(x)
    t = x.shape[-1] // 3 * 3
    if channels_last:
        # (B, F, T, C) in memory: reduce groups of 3 time steps with the channels innermost.
        return x.permute(0, 2, 3, 1)[:, :, :t].unflatten(2, (-1, 3)).amax(3).permute(0, 3, 1, 2)
    return x[..., :t].unflatten(-1, (-1, 3)).amax(-1)


class _MaxPoolTime(torch.autograd.Function):
    """Time max-pool of a default-layout tensor: amax forward, and the position of the first
    maximum of each group kept as one byte for the backward scatter (max_pool2d's rule)."""

    @staticmethod
    def forward(ctx, x):
        t = x.shape[-1] // 3 * 3
        a, b, c = x[..., :t].unflatten(-1, (-1, 3)).unbind(-1)  # each (B, C, F, T // 3)
        # two maxima and two comparisons of strided views: no full-size temporary
        top = torch.maximum(torch.maximum(a, b), c)
        first = (a != top).to(torch.uint8) * (2 - (b == top).to(torch.uint8))  # 0, 1 or 2
        ctx.save_for_backward(first)
        ctx.shape = x.shape
        return top

    @staticmethod
    def backward(ctx, grad):
        (first,) = ctx.saved_tensors
        out = grad.new_zeros(ctx.shape)
        t = ctx.shape[-1] // 3 * 3
        out[..., :t].unflatten(-1, (-1, 3)).scatter_(-1, first.long().unsqueeze(-1),
                                                     grad.unsqueeze(-1))
        return out


class Residual_block(nn.Module):  # noqa: N801 - official class name, kept for familiarity
    """Residual block: (B, C_in, F, T) -> (B, C_out, F, T // 3).

    conv1 (2x3, pad 1) -> bn2 -> SELU -> conv2 (2x3, pad 0 in F) -> + skip -> max-pool 1x3.
    The frequency size F is kept (conv1 adds a row, conv2 removes it).
    """

    def __init__(self, nb_filts: list[int], first: bool = False):
        super().__init__()
        c_in, c_out = nb_filts
        self.first = first
        if not first:
            # Present in every official checkpoint; its output was never used (see module doc).
            # Frozen, so optimisers and DistributedDataParallel know it gets no gradient.
            self.bn1 = nn.BatchNorm2d(c_in).requires_grad_(False)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=(2, 3), padding=(0, 1))
        self.downsample = c_in != c_out
        if self.downsample:
            self.conv_downsample = nn.Conv2d(c_in, c_out, kernel_size=(1, 3), padding=(0, 1))

    def forward(self, x: torch.Tensor, layout: torch.memory_format = torch.contiguous_format
                ) -> torch.Tensor:
        """``layout`` is the memory format of the first block's output (later blocks keep
        their input's), see `runtime.conv_layout`."""
        def conv(layer: nn.Conv2d, inp: torch.Tensor) -> torch.Tensor:
            return _conv_one_channel(inp, layer, layout) if layer.in_channels == 1 else layer(inp)

        out = selu_(self.bn2(conv(self.conv1, x)))
        out = self.conv2(out)
        # in place: conv2's backward needs its input, not its output; one buffer fewer
        out += conv(self.conv_downsample, x) if self.downsample else x
        return _max_pool_time(out)


def _node_pairs(x: torch.Tensor) -> torch.Tensor:
    """Element-wise products of every node pair: (B, N, D) -> (B, N, N, D)."""
    return x.unsqueeze(2) * x.unsqueeze(1)


def _batch_norm_nodes(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the feature axis, statistics shared by all nodes: (B, N, D) -> same."""
    return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def _xavier_param(*size: int) -> nn.Parameter:
    weight = nn.Parameter(torch.empty(*size))
    nn.init.xavier_normal_(weight)
    return weight


class GraphAttentionLayer(nn.Module):
    """Graph attention over one node type: (B, N, D_in) -> (B, N, D_out)."""

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0):
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _xavier_param(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.temp = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)
        scores = torch.tanh(self.att_proj(_node_pairs(x))) @ self.att_weight  # (B, N, N, 1)
        att = torch.softmax(scores.squeeze(-1) / self.temp, dim=-1)  # row i sums to 1 over j
        x = self.proj_with_att(att @ x) + self.proj_without_att(x)
        return F.selu(_batch_norm_nodes(self.bn, x))


class HtrgGraphAttentionLayer(nn.Module):
    """Heterogeneous graph attention over two node types and a master node.

    (B, N1, D_in), (B, N2, D_in), master (B or 1, 1, D_in)
    -> (B, N1, D_out), (B, N2, D_out), master (B, 1, D_out).
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0):
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _xavier_param(out_dim, 1)
        self.att_weight22 = _xavier_param(out_dim, 1)
        self.att_weight12 = _xavier_param(out_dim, 1)  # serves both cross-type blocks
        self.att_weightM = _xavier_param(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.temp = temperature

    def _attention(self, x: torch.Tensor, n1: int) -> torch.Tensor:
        """Attention map (B, N, N): each block of node-type pairs scored by its own weight."""
        hidden = torch.tanh(self.att_proj(_node_pairs(x)))  # (B, N, N, D_out)
        weights = torch.cat([self.att_weight11, self.att_weight22, self.att_weight12], dim=1)
        scores = hidden @ weights  # (B, N, N, 3): one score per candidate weight
        is_type1 = torch.arange(x.shape[1], device=x.device) < n1
        same = is_type1.unsqueeze(1) == is_type1.unsqueeze(0)
        which = torch.where(same, torch.where(is_type1, 0, 1).unsqueeze(1), 2)  # (N, N)
        scores = scores.gather(-1, which.expand(x.shape[0], -1, -1).unsqueeze(-1)).squeeze(-1)
        return torch.softmax(scores / self.temp, dim=-1)

    def _update_master(self, x: torch.Tensor, master: torch.Tensor) -> torch.Tensor:
        scores = torch.tanh(self.att_projM(x * master)) @ self.att_weightM  # (B, N, 1)
        att = torch.softmax(scores / self.temp, dim=1)
        return self.proj_with_attM(att.transpose(1, 2) @ x) + self.proj_without_attM(master)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor):
        n1 = x1.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        x = self.input_drop(x)
        att = self._attention(x, n1)
        master = self._update_master(x, master)
        x = self.proj_with_att(att @ x) + self.proj_without_att(x)
        x = F.selu(_batch_norm_nodes(self.bn, x))
        return x[:, :n1], x[:, n1:], master


class GraphPool(nn.Module):
    """Keep the top ``k`` fraction of nodes by a learned score: (B, N, D) -> (B, max(int(N k), 1), D).

    Kept nodes are scaled by their sigmoid score (official behaviour), in descending score order.
    """

    def __init__(self, k: float, in_dim: int, p: float):
        super().__init__()
        self.k = k
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(p=p) if p > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(self.drop(h)))  # (B, N, 1)
        n_keep = max(int(h.shape[1] * self.k), 1)
        idx = torch.topk(scores, n_keep, dim=1).indices
        return torch.gather(h * scores, 1, idx.expand(-1, -1, h.shape[2]))


class Model(nn.Module):
    """AASIST: raw waveform (B, L) at 16 kHz -> logits (B, 2), column 1 = bona fide.

    ``forward(x, freq_aug=False, return_hidden=False)``; with ``return_hidden=True`` it
    returns ``(hidden, logits)`` where hidden is the (B, 5 * gat_dims[-1]) embedding
    (official order: [T_max, T_avg, S_max, S_avg, master]).
    """

    def __init__(self, d_args: Mapping[str, Any]):
        super().__init__()
        self.d_args = dict(d_args)
        filts, gat_dims = d_args["filts"], d_args["gat_dims"]
        pool_ratios, temperatures = d_args["pool_ratios"], d_args["temperatures"]
        self.conv_time = SincConv(filts[0], d_args["first_conv"])
        self.first_bn = nn.BatchNorm2d(num_features=1)
        self.drop = nn.Dropout(0.5)
        self.drop_way = nn.Dropout(0.2)
        blocks = [filts[1], filts[2], filts[3], filts[4], filts[4], filts[4]]
        self.encoder = nn.Sequential(*[
            nn.Sequential(Residual_block(nb_filts=f, first=(i == 0))) for i, f in enumerate(blocks)])
        n_freq = filts[0] // 3  # spectral nodes: sinc bands after the 3x3 max-pool
        self.pos_S = nn.Parameter(torch.randn(1, n_freq, filts[-1][-1]))
        self.master1 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.master2 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.GAT_layer_S = GraphAttentionLayer(filts[-1][-1], gat_dims[0], temperatures[0])
        self.GAT_layer_T = GraphAttentionLayer(filts[-1][-1], gat_dims[0], temperatures[1])
        self.HtrgGAT_layer_ST11 = HtrgGraphAttentionLayer(gat_dims[0], gat_dims[1], temperatures[2])
        self.HtrgGAT_layer_ST12 = HtrgGraphAttentionLayer(gat_dims[1], gat_dims[1], temperatures[2])
        self.HtrgGAT_layer_ST21 = HtrgGraphAttentionLayer(gat_dims[0], gat_dims[1], temperatures[2])
        self.HtrgGAT_layer_ST22 = HtrgGraphAttentionLayer(gat_dims[1], gat_dims[1], temperatures[2])
        self.pool_S = GraphPool(pool_ratios[0], gat_dims[0], 0.3)
        self.pool_T = GraphPool(pool_ratios[1], gat_dims[0], 0.3)
        self.pool_hS1 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)
        self.pool_hT1 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)
        self.pool_hS2 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)
        self.pool_hT2 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)
        self.out_layer = nn.Linear(5 * gat_dims[1], 2)

    @property
    def min_samples(self) -> int:
        """Shortest input the architecture accepts: every 3x time pooling must keep >= 1 step."""
        return 3 ** N_POOLING_STAGES + self.conv_time.kernel_size - 1

    def _branch(self, out_t, out_s, master, first, second, pool_s, pool_t):
        """One of the two parallel heterogeneous-graph inference paths."""
        out_t, out_s, master = first(out_t, out_s, master)
        out_s, out_t = pool_s(out_s), pool_t(out_t)
        aug_t, aug_s, aug_m = second(out_t, out_s, master)
        return out_t + aug_t, out_s + aug_s, master + aug_m

    def forward(self, x: torch.Tensor, freq_aug: bool = False, return_hidden: bool = False):
        if x.dim() != 2:
            raise ValueError(f"expected a (batch, samples) waveform tensor, got shape {tuple(x.shape)}")
        if x.shape[1] < self.min_samples:
            raise ValueError(
                f"input has {x.shape[1]} samples; AASIST needs at least {self.min_samples} "
                f"({self.min_samples / 16000:.3f} s at 16 kHz): repeat-pad shorter clips")
        x = self.conv_time(x, mask=freq_aug)  # (B, n_sinc, L')
        x = _stem_pool(x)  # (B, 1, n_sinc // 3, L' // 3)
        x = selu_(self.first_bn(x))
        layout = runtime.conv_layout(x.device, self.training)
        for stage in self.encoder:  # nn.Sequential(Residual_block): the official key names
            x = stage[0](x, layout)
        e = x.abs()  # (B, C, F, T), in `layout`

        e_s = e.amax(dim=3).transpose(1, 2) + self.pos_S  # spectral nodes (B, F, C)
        out_s = self.pool_S(self.GAT_layer_S(e_s))
        e_t = e.amax(dim=2).transpose(1, 2)  # temporal nodes (B, T, C)
        out_t = self.pool_T(self.GAT_layer_T(e_t))

        t1, s1, m1 = self._branch(out_t, out_s, self.master1, self.HtrgGAT_layer_ST11,
                                  self.HtrgGAT_layer_ST12, self.pool_hS1, self.pool_hT1)
        t2, s2, m2 = self._branch(out_t, out_s, self.master2, self.HtrgGAT_layer_ST21,
                                  self.HtrgGAT_layer_ST22, self.pool_hS2, self.pool_hT2)
        d = self.drop_way
        out_t = torch.maximum(d(t1), d(t2))
        out_s = torch.maximum(d(s1), d(s2))
        master = torch.maximum(d(m1), d(m2))

        hidden = torch.cat([out_t.abs().amax(dim=1), out_t.mean(dim=1),
                            out_s.abs().amax(dim=1), out_s.mean(dim=1), master.squeeze(1)], dim=1)
        logits = self.out_layer(self.drop(hidden))
        return (hidden, logits) if return_hidden else logits


def build_model(model_config: Mapping[str, Any]) -> Model:
    """Build AASIST / AASIST-L from a config's ``model_config`` section (ConfigError if invalid)."""
    filts = model_config["filts"]
    if not (len(filts) == 5 and isinstance(filts[0], int)
            and all(isinstance(f, list) and len(f) == 2 for f in filts[1:])):
        raise ConfigError(f"model_config.filts must be [n_sinc, [in, out] x 4], got {filts!r}")
    for key, n in (("gat_dims", 2), ("pool_ratios", 4), ("temperatures", 4)):
        if len(model_config[key]) < n:
            raise ConfigError(f"model_config.{key} needs {n} values, got {model_config[key]!r}")
    model = Model(model_config)
    # nb_samp always; eval_nb_samp only where set (0 = nb_samp)
    for key in ("nb_samp", "eval_nb_samp") if model_config.get("eval_nb_samp") else ("nb_samp",):
        if model_config[key] < model.min_samples:
            raise ConfigError(f"model_config.{key}={model_config[key]} is shorter than the "
                              f"{model.min_samples} samples this architecture needs")
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters())


def load_weights(model: Model, path: PathLike, strict: bool = True) -> Model:
    """Load a state_dict (official checkpoint, ours, or a run's checkpoint.pt) onto ``model``'s device.

    ``path`` may also be ``official:AASIST`` / ``official:AASIST-L`` (the bundled checkpoints).
    The official files were saved from CUDA tensors; they are mapped to wherever the model
    lives, so they load on CPU-only machines too.
    """
    text = os.fspath(path)
    path = pretrained.official(text[len(pretrained.PREFIX):]).weights \
        if text.startswith(pretrained.PREFIX) else Path(text)
    if not path.is_file():
        raise DataError(f"{path}: weights not found; give a .pth file, or "
                        f"official:{pretrained.DEFAULT} for the bundled official weights")
    device = next(model.parameters()).device
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # a truncated or non-torch file: say which file
        raise DataError(f"{path}: not a readable PyTorch checkpoint ({exc.__class__.__name__})") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint.pt: take its model weights
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        lines = str(exc).splitlines()
        first = lines[1].strip() if len(lines) > 1 else str(exc)
        raise DataError(f"{path}: weights do not fit this model config ({first}); "
                        f"use the config the weights were trained with") from None
    return model


def interpolate_weights(model_config: Mapping[str, Any], a: PathLike, b: PathLike,
                        alpha: float = 0.5) -> Model:
    """A model whose weights are ``(1 - alpha) * a + alpha * b``, parameters and BatchNorm
    statistics alike (integer counters from ``b``); ``a`` and ``b`` as `load_weights` takes.

    Two fine-tunes of the same model (say on clean and on augmented audio) usually stay in one
    basin, so their weight average behaves much like an ensemble of both at the cost of one
    model ("model soups", Wortsman et al., ICML 2022).
    """
    if not 0 <= alpha <= 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
    first = load_weights(build_model(model_config), a)
    second = load_weights(build_model(model_config), b).state_dict()
    mixed = {k: torch.lerp(v, second[k], alpha) if v.is_floating_point() else second[k]
             for k, v in first.state_dict().items()}
    first.load_state_dict(mixed)
    return first


def load_model(config: Optional[PathLike] = None, weights: Optional[PathLike] = None,
               device: str = "cpu", overrides: Iterable[str] = ()) -> Model:
    """Config file + weights -> model in eval mode on ``device``.

    With neither given: the bundled official AASIST-L. ``weights="official:AASIST"`` picks
    the other bundled checkpoint (and its config); see :func:`aasist.pretrained.resolve`
    for how a missing config is found.
    """
    config_path, weights_path = pretrained.resolve(config, weights)
    model = build_model(load_config(config_path, overrides)["model_config"]).to(device)
    return load_weights(model, weights_path).eval()
