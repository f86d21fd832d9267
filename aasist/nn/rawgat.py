"""RawGAT-ST (Tak et al., ASVspoof 2021 workshop, arXiv:2107.12710), written for this project.

End-to-end spectro-temporal graph attention: a fixed sinc filterbank, two residual encoders
of the same shape, a graph attention layer over the *spectral* nodes (sub-bands) of the
first and one over the *temporal* nodes of the second, both pooled and projected to 12
nodes, a *fusion* of the two graphs, and a third graph attention layer on the fused graph.
The three published variants differ only in the fusion (``model_config.fusion``):

* ``mul``: element-wise product of the two (B, 32, 12) graphs (the authors' ``model.py``);
* ``add``: element-wise sum (``RawGAT_models/model_RawGAT_ST_add.py``);
* ``cat``: concatenation along the feature axis, (B, 64, 12), so the fused graph layer
  maps 64 -> 32 features instead of 32 -> 16 (``model_RawGAT_ST_concat.py``).

The module tree and parameter names match the authors' checkpoints (eurecom-asp/RawGAT-ST-
antispoofing, ``Pre_trained_models/RawGAT_ST_*/Best_epoch.pth``), so they load with
``strict=True``, and in eval mode the logits agree with the authors' code to float32
rounding (tests/test_bundles.py). Behaviours of the authors' code the checkpoints were
trained with are reproduced, not "fixed":

* every residual block after the first reads its *input* with ``conv1``; the authors'
  code computes ``selu(bn1(x))`` and throws it away, and also builds a 1-channel
  ``conv_1`` that only the first block uses. Both (``bn1``, ``conv_1``) exist for the
  state_dict, frozen, and are skipped here: they never influenced the output;
* the first block has no ``conv_downsample``: its 1-channel input is added to its
  32-channel output by broadcasting;
* graph pooling multiplies nodes by their sigmoid score before keeping the top ones
  (in descending score order: the projections over nodes depend on that order);
* frequency masking in training ("Freq_aug") zeroes a run of 0-13 sinc bands.

The graph layers' sizes (14 spectral and 23 temporal nodes kept, 7 fused) follow from the
window, so the network takes exactly ``nb_samp`` samples (64,600 = 4.04 s in the authors'
config): longer audio is cut into windows and shorter audio repeat-padded by the caller
(:mod:`aasist.inference`). Shapes: B batch, L samples, C channels, F frequency rows,
T time steps, N nodes, D node features.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn

from .layers import (N_POOLING_STAGES, GraphAttentionLayer, GraphPool, Kernels, Residual_block,
                     SincConv, conv_one_channel, max_pool_time, selu_, stem_pool)

FUSIONS = ("mul", "add", "cat")

# Fixed by the architecture (the authors' code holds them as literals).
GAT_DIM = 32            # features of the spectral and temporal graph layers
FUSED_NODES = 12        # nodes each graph is projected to before the fusion
POOL_SPECTRAL, POOL_TEMPORAL, POOL_FUSED = 0.64, 0.81, 0.64  # node keep ratios
POOL_DROPOUT = 0.3
MAX_FREQ_MASK = 14      # Freq_aug: 0-13 masked sinc bands
BLOCKS = (2, 4)         # residual blocks: filts[1] x 2, then filts[2], filts[3] x 3


def kept_nodes(n_nodes: int, ratio: float) -> int:
    """Nodes a graph pooling keeps of ``n_nodes`` (the authors keep at least 2)."""
    return max(int(n_nodes * ratio), 2)


def graph_sizes(nb_samp: int, first_conv: int, out_channels: int) -> tuple[int, int]:
    """(spectral, temporal) nodes of the encoders' output for a window of ``nb_samp`` samples:
    the sinc bands after the 3x3 stem pooling, and the time steps after the stem's and the
    six blocks' 3x time poolings (0 when the window is too short)."""
    kernel = first_conv + 1 if first_conv % 2 == 0 else first_conv
    return out_channels // 3, max(nb_samp - kernel + 1, 0) // 3 ** N_POOLING_STAGES


def min_window(first_conv: int) -> int:
    """Shortest ``nb_samp`` whose temporal graph keeps 2 nodes after pooling (the authors'
    minimum, and where :class:`GraphPool`'s rule agrees with theirs)."""
    kernel = first_conv + 1 if first_conv % 2 == 0 else first_conv
    n_time = next(n for n in range(1, 100) if int(n * POOL_TEMPORAL) >= 2)
    return n_time * 3 ** N_POOLING_STAGES + kernel - 1


class FirstBlock(nn.Module):
    """RawGAT-ST's first residual block: (B, 1, F, T) -> (B, C, F, T // 3).

    conv_1 (1 -> C, 2x3, pad 1) -> bn2 -> SELU -> conv2 (2x3, pad 0 in F) -> + input
    (1 channel, broadcast over C) -> max-pool 1x3.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv_1 = nn.Conv2d(1, channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=(2, 3), padding=(0, 1))

    def forward(self, x: torch.Tensor, layout: torch.memory_format = torch.contiguous_format,
                selu: str = "torch") -> torch.Tensor:
        """``layout``: memory format of the output; ``selu``: SELU kernel (see Kernels)."""
        out = selu_(self.bn2(conv_one_channel(x, self.conv_1, layout)), selu)
        out = self.conv2(out)
        out += x  # (B, 1, F, T) broadcast over the channels, as the authors' code adds it
        return max_pool_time(out)


class Block(Residual_block):
    """A later RawGAT-ST residual block: AASIST's (see :class:`Residual_block`), plus the
    unused 1-channel ``conv_1`` the authors' checkpoints hold (frozen: no gradient)."""

    def __init__(self, nb_filts: list[int]):
        super().__init__(nb_filts, first=False)
        self.conv_1 = nn.Conv2d(1, nb_filts[1], kernel_size=(2, 3),
                                padding=(1, 1)).requires_grad_(False)


def _encoder(filts: list) -> nn.Sequential:
    """filts[1] x 2 (the first a :class:`FirstBlock`), filts[2], filts[3] x 3; each block
    wrapped in its own nn.Sequential, as the authors' key names (``encoder1.0.0.conv_1``) say."""
    blocks = [FirstBlock(filts[1][1]), Block(filts[1]), Block(filts[2]),
              Block(filts[3]), Block(filts[3]), Block(filts[3])]
    return nn.Sequential(*[nn.Sequential(b) for b in blocks])


class RawGATST(nn.Module):
    """RawGAT-ST: raw waveform (B, nb_samp) at 16 kHz -> logits (B, 2), column 1 = bona fide.

    ``forward(x, freq_aug=False, return_hidden=False)``; with ``return_hidden=True`` it
    returns ``(hidden, logits)``, hidden being the (B, 7) node scores the classifier reads.
    ``model_config`` keys (validated by :mod:`aasist.config`): ``nb_samp``, ``first_conv``,
    ``out_channels`` (sinc bands), ``filts`` ([unused, [in, out] x 3]), ``fusion``.
    """

    def __init__(self, d_args: Mapping[str, Any], kernels: Kernels = Kernels()):
        super().__init__()
        self.d_args = dict(d_args)
        self.kernels = kernels  # speed only: aasist.runtime.kernels_for() picks the machine's
        filts, fusion = d_args["filts"], d_args["fusion"]
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; valid: {', '.join(FUSIONS)}")
        self.fusion = fusion
        self.nb_samp = int(d_args["nb_samp"])
        self.conv_time = SincConv(d_args["out_channels"], d_args["first_conv"],
                                  max_mask=MAX_FREQ_MASK)
        self.first_bn = nn.BatchNorm2d(num_features=1)
        self.encoder1 = _encoder(filts)  # feeds the spectral graph
        self.encoder2 = _encoder(filts)  # feeds the temporal graph
        n_freq, n_time = graph_sizes(self.nb_samp, d_args["first_conv"], d_args["out_channels"])
        channels = filts[-1][-1]
        self.GAT_layer1 = GraphAttentionLayer(channels, GAT_DIM)
        self.pool1 = GraphPool(POOL_SPECTRAL, GAT_DIM, POOL_DROPOUT)
        self.GAT_layer2 = GraphAttentionLayer(channels, GAT_DIM)
        self.pool2 = GraphPool(POOL_TEMPORAL, GAT_DIM, POOL_DROPOUT)
        fused_in = 2 * GAT_DIM if fusion == "cat" else GAT_DIM
        fused_out = fused_in // 2
        self.GAT_layer3 = GraphAttentionLayer(fused_in, fused_out)
        self.pool3 = GraphPool(POOL_FUSED, fused_out, POOL_DROPOUT)
        self.proj1 = nn.Linear(kept_nodes(n_freq, POOL_SPECTRAL), FUSED_NODES)
        self.proj2 = nn.Linear(kept_nodes(n_time, POOL_TEMPORAL), FUSED_NODES)
        self.proj = nn.Linear(fused_out, 1)
        self.proj_node = nn.Linear(kept_nodes(FUSED_NODES, POOL_FUSED), 2)

    @property
    def min_samples(self) -> int:
        """The input length the network takes: exactly ``nb_samp`` samples."""
        return self.nb_samp

    def _encode(self, encoder: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, F, T) -> |encoder(x)|: (B, C, F, T // 729)."""
        layout, selu = self.kernels.layout(self.training), self.kernels.selu
        for stage in encoder:
            x = stage[0](x, layout, selu)
        return x.abs()

    def _fuse(self, spectral: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
        """Two (B, D, 12) graphs -> (B, D, 12), or (B, 2 D, 12) for ``cat``."""
        if self.fusion == "mul":
            return spectral * temporal
        if self.fusion == "add":
            return spectral + temporal
        return torch.cat([spectral, temporal], dim=1)

    def forward(self, x: torch.Tensor, freq_aug: bool = False, return_hidden: bool = False):
        if x.dim() != 2:
            raise ValueError(f"expected a (batch, samples) waveform tensor, got shape {tuple(x.shape)}")
        if x.shape[1] != self.nb_samp:
            raise ValueError(
                f"input has {x.shape[1]} samples; RawGAT-ST takes exactly {self.nb_samp} "
                f"({self.nb_samp / 16000:.3f} s at 16 kHz, its graph layers are sized for "
                f"it): cut longer audio into windows, repeat-pad shorter clips")
        x = self.conv_time(x, mask=freq_aug)  # (B, n_sinc, L')
        x = stem_pool(x)  # (B, 1, n_sinc // 3, L' // 3)
        x = selu_(self.first_bn(x), self.kernels.selu)

        spectral = self._encode(self.encoder1, x).amax(dim=3).transpose(1, 2)  # (B, F, C)
        spectral = self.pool1(self.GAT_layer1(spectral))  # (B, 14, 32)
        spectral = self.proj1(spectral.transpose(1, 2))  # (B, 32, 12): nodes projected
        temporal = self._encode(self.encoder2, x).amax(dim=2).transpose(1, 2)  # (B, T, C)
        temporal = self.pool2(self.GAT_layer2(temporal))  # (B, 23, 32)
        temporal = self.proj2(temporal.transpose(1, 2))  # (B, 32, 12)

        fused = self._fuse(spectral, temporal).transpose(1, 2)  # (B, 12, D)
        fused = self.pool3(self.GAT_layer3(fused))  # (B, 7, D')
        hidden = self.proj(fused).flatten(1)  # (B, 7)
        logits = self.proj_node(hidden)
        return (hidden, logits) if return_hidden else logits


__all__ = ["BLOCKS", "FUSIONS", "POOL_SPECTRAL", "POOL_TEMPORAL", "Block", "FirstBlock", "RawGATST",
           "graph_sizes", "kept_nodes", "min_window"]
