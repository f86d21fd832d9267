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

Shapes below (see :mod:`aasist.nn.layers` for the blocks): B batch, L samples, C channels, F frequency rows, T time steps, N nodes.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn

from .layers import (GraphAttentionLayer, GraphPool, HtrgGraphAttentionLayer, Kernels,
                     Residual_block, SincConv, min_input_samples, selu_, stem_pool)


class Model(nn.Module):
    """AASIST: raw waveform (B, L) at 16 kHz -> logits (B, 2), column 1 = bona fide.

    ``forward(x, freq_aug=False, return_hidden=False)``; with ``return_hidden=True`` it
    returns ``(hidden, logits)`` where hidden is the (B, 5 * gat_dims[-1]) embedding
    (official order: [T_max, T_avg, S_max, S_avg, master]).
    """

    def __init__(self, d_args: Mapping[str, Any], kernels: Kernels = Kernels()):
        super().__init__()
        self.d_args = dict(d_args)
        self.kernels = kernels  # speed only: aasist.runtime.kernels_for() picks the machine's
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
        return min_input_samples(self.conv_time.kernel_size)

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
        x = stem_pool(x)  # (B, 1, n_sinc // 3, L' // 3)
        selu = self.kernels.selu
        x = selu_(self.first_bn(x), selu)
        layout = self.kernels.layout(self.training)
        for stage in self.encoder:  # nn.Sequential(Residual_block): the official key names
            x = stage[0](x, layout, selu)
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


AASIST = Model  # the name users look for; ``Model`` is the official class name
