"""Building blocks of the AASIST family: sinc front end, residual encoder, graph attention.

Torch only: no files, no environment, no process settings. Kernel choices that change
speed but not values (beyond float rounding) come in as a :class:`Kernels` object.
Shapes: B batch, L samples, C channels, F frequency rows, T time steps, N nodes.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..melscale import hz_to_mel, mel_to_hz

N_POOLING_STAGES = 7  # one 3x max-pool after the sinc layer and one per residual block

LAYOUTS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
SELU_KERNELS = ("torch", "exp")


@dataclass(frozen=True)
class Kernels:
    """How a forward pass runs; every choice gives the same values up to float rounding.

    ``train_layout`` / ``eval_layout``: memory layout of the encoder's activations in
    training / inference mode (``"channels_last"`` or ``"contiguous"``). ``selu``: SELU
    computed by ``F.selu`` (``"torch"``) or from ``exp`` (``"exp"``, see :func:`selu_`).
    The default suits any machine; :func:`aasist.runtime.kernels_for` picks the fastest
    for the CPU or GPU at hand.
    """

    train_layout: str = "contiguous"
    eval_layout: str = "channels_last"
    selu: str = "torch"

    def __post_init__(self):
        for name in ("train_layout", "eval_layout"):
            if getattr(self, name) not in LAYOUTS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; valid: {', '.join(LAYOUTS)}")
        if self.selu not in SELU_KERNELS:
            raise ValueError(f"unknown SELU kernel {self.selu!r}; valid: {', '.join(SELU_KERNELS)}")

    def layout(self, training: bool) -> torch.memory_format:
        return LAYOUTS[self.train_layout if training else self.eval_layout]


def min_input_samples(first_conv: int) -> int:
    """Shortest waveform an AASIST-style encoder with a ``first_conv``-tap sinc layer takes:
    every 3x time pooling must keep at least one step."""
    kernel = first_conv + 1 if first_conv % 2 == 0 else first_conv
    return 3 ** N_POOLING_STAGES + kernel - 1


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
    random run of 0 to ``max_mask - 1`` adjacent bands (the official "freq_aug" training
    augmentation: AASIST masks up to 19 bands, RawGAT-ST up to 13).
    """

    def __init__(self, out_channels: int, kernel_size: int, sample_rate: int = 16000,
                 max_mask: int = 20):
        super().__init__()
        self.out_channels = out_channels
        self.max_mask = max_mask
        self.kernel_size = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size
        bank = sinc_filterbank(out_channels, self.kernel_size, sample_rate)
        self.register_buffer("band_pass", bank.unsqueeze(1), persistent=False)

    def forward(self, x: torch.Tensor, mask: bool = False) -> torch.Tensor:
        filters = self.band_pass
        if mask:
            width = int(np.random.uniform(0, self.max_mask))
            start = random.randint(0, self.out_channels - width)
            filters = filters.clone()
            filters[start:start + width] = 0
        return F.conv1d(x.unsqueeze(1), filters.to(x.dtype))


def conv_one_channel(x: torch.Tensor, conv: nn.Conv2d, layout: torch.memory_format) -> torch.Tensor:
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


def selu_(x: torch.Tensor, kernel: str = "torch") -> torch.Tensor:
    """SELU, in place where autograd allows; ``kernel`` as in :class:`Kernels`.

    Some PyTorch builds run SELU's expm1 several times slower than exp (the torch 2.14.1
    wheel with AVX-512); there ``exp(min(x, 0)) - 1`` is faster and differs by float rounding.
    """
    if kernel == "torch":
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


def stem_pool(x: torch.Tensor) -> torch.Tensor:
    """``max_pool2d(|x|, (3, 3))`` of the sinc output: (B, F, L) -> (B, 1, F // 3, L // 3).

    PyTorch's 2-D max-pool on a 1-channel input runs a scalar loop (about 80 ms for a batch
    of 8 x 4 s). Without gradients, the maximum over 3 adjacent bands (whole rows, so
    vectorised) followed by a 1-D max-pool over time gives the same values about 4x faster.
    The input needs no gradient in training either: the filterbank is fixed.

    While exporting (:func:`torch.compiler.is_exporting`, e.g. to ONNX) it is the official
    op as well: ``max_pool1d``'s shape function fixes a symbolic length to the example's,
    so the strided fast path would not keep the length axis dynamic.
    """
    if x.requires_grad or torch.compiler.is_exporting():  # the official op (see above)
        return F.max_pool2d(x.abs().unsqueeze(1), (3, 3))
    a = x.abs_()
    n = a.shape[1] // 3 * 3
    bands = torch.maximum(a[:, 0:n:3], a[:, 1:n:3])
    bands = torch.maximum(bands, a[:, 2:n:3], out=bands)  # (B, F // 3, L)
    return F.max_pool1d(bands, 3).unsqueeze(1)


def max_pool_time(x: torch.Tensor) -> torch.Tensor:
    """Max-pool by 3 along the last axis: (B, C, F, T) -> (B, C, F, T // 3).

    Same values and gradients as ``nn.MaxPool2d((1, 3))``, whatever the memory layout;
    each layout gets the kernel that is fast for it. While exporting it is that op itself:
    the fast paths cut ``T`` to a multiple of 3, which a symbolic ``T`` turns into guards on
    its divisibility (an exported graph for one residue class only).
    """
    if torch.compiler.is_exporting():
        return F.max_pool2d(x, (1, 3))
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

    def forward(self, x: torch.Tensor, layout: torch.memory_format = torch.contiguous_format,
                selu: str = "torch") -> torch.Tensor:
        """``layout`` is the memory format of the first block's output (later blocks keep
        their input's) and ``selu`` the SELU kernel, see :class:`Kernels`."""
        def conv(layer: nn.Conv2d, inp: torch.Tensor) -> torch.Tensor:
            return conv_one_channel(inp, layer, layout) if layer.in_channels == 1 else layer(inp)

        out = selu_(self.bn2(conv(self.conv1, x)), selu)
        out = self.conv2(out)
        # in place: conv2's backward needs its input, not its output; one buffer fewer
        out += conv(self.conv_downsample, x) if self.downsample else x
        return max_pool_time(out)


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


def kept_count(n_nodes: int, ratio: float) -> int:
    """``max(int(n_nodes * ratio), 1)``: how many nodes :class:`GraphPool` keeps.

    With a symbolic node count (a graph exported with a dynamic length axis) the product is
    computed in a float64 tensor: exporters compute symbolic floats in float32, where
    ``10 * 0.7`` truncates to 6 instead of Python's 7. The count is then a data-dependent size
    in the graph, the same number Python computes.
    """
    if not isinstance(n_nodes, torch.SymInt):
        return max(int(n_nodes * ratio), 1)
    product = torch.full((), n_nodes, dtype=torch.float64) * torch.tensor(ratio, dtype=torch.float64)
    kept = product.to(torch.int64).clamp(min=1).item()  # int64 cast truncates, as int() does
    torch._check(kept >= 1)
    torch._check(kept <= n_nodes)
    return kept


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
        n_keep = kept_count(h.shape[1], self.k)
        idx = torch.topk(scores, n_keep, dim=1).indices
        return torch.gather(h * scores, 1, idx.expand(-1, -1, h.shape[2]))
