"""The ensemble's members in one vectorised pass, for inference (eval mode, no gradient).

``EnsembleNet`` runs k ``MultiModalNet`` members; one after another, a single-sample call pays k times
every small kernel's dispatch cost, and the bidirectional GRU's 2 × positions sequential steps k times
over. Here every member's weights are stacked along a leading member axis (k, …) once: linear layers
become ``baddbmm``, the convolutions one grouped convolution (one group per member) or one batched
matmul on unfolded windows, eval-mode BatchNorm folds into the layer before it, and the members' GRUs
(both directions: the reverse one reads the flipped sequence) walk their positions together as 2k
stacked cells. ``torch.vmap`` over ``functional_call`` would not: ``nn.GRU`` has no batching rule, and
absent modalities pick rows with data-dependent shapes.

The stacked weights are copies, so ``EnsembleNet`` keys them on its members' tensors (identity, storage
and version counter) and rebuilds them after any change (``load_state_dict``, an optimiser step,
``.to()``). Only the eval-mode forward is reproduced: dropout is the identity, BatchNorm uses its running
statistics. Results match the member loop to float rounding (summation order, folded BatchNorm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from oncofusion.models.encoders import CNNEncoder, CNNGRUEncoder, MLPEncoder
from oncofusion.models.fusion import ConcatFusion, CrossModalAttentionFusion


@dataclass
class Stacked:
    """Per-member results, member axis first."""

    logits: torch.Tensor  # (k, batch, classes), before the temperature
    embedding: torch.Tensor  # (k, batch, d)
    tokens: torch.Tensor  # (k, batch, modalities, d)
    attention: list[torch.Tensor]  # per layer (k, batch, tokens, tokens)


def modules_of(root: nn.Module) -> list[nn.Module]:
    """``root.modules()`` without the qualified names it builds (a third of the cost for an ensemble)."""
    found, stack = [], [root]
    while stack:
        module = stack.pop()
        found.append(module)
        stack.extend(m for m in module._modules.values() if m is not None)
    return found


def state_key(members: nn.Module) -> tuple[tuple, list[torch.Tensor]] | None:
    """What the stacked copies depend on: every member tensor's identity, storage and version counter,
    with the tensors themselves (held by the cache, so no identity is reused while it lives). None where
    a member module is in training mode or it cannot be told (inference tensors have no version
    counter): the member loop must run."""
    tensors = []
    for module in modules_of(members):
        if module.training:
            return None
        tensors.extend(module._parameters.values())
        tensors.extend(module._buffers.values())
    tensors = [t for t in tensors if t is not None]
    try:
        versions = tuple([t._version for t in tensors])
    except RuntimeError:
        return None
    return (tuple(map(id, tensors)), tuple([t.data_ptr() for t in tensors]), versions), tensors


def supported(members: Sequence[nn.Module]) -> bool:
    """Whether every member is built from the layers this module knows how to stack."""
    for member in members:
        for encoder in member.encoders.values():
            if type(encoder) not in (MLPEncoder, CNNEncoder, CNNGRUEncoder):
                return False
            gru = getattr(encoder, "gru", None)
            if gru is not None and (gru.num_layers != 1 or not gru.bidirectional or not gru.bias):
                return False
        if type(member.fusion) not in (CrossModalAttentionFusion, ConcatFusion):
            return False
    return True


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([t.detach() for t in tensors]).contiguous()


class _Linear:
    """k linear layers: (k, …, in) → (k, …, out), from weights (k, out, in) and biases (k, out)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.weight = weight.transpose(1, 2).contiguous()  # (k, in, out)
        self.bias = bias.unsqueeze(1).contiguous()  # (k, 1, out)

    @classmethod
    def of(cls, layers: Sequence[nn.Linear], norms: Sequence[nn.BatchNorm1d] | None = None) -> _Linear:
        """Stacked ``layers``; ``norms`` folds the eval-mode BatchNorm that follows each one."""
        weight, bias = _stack([layer.weight for layer in layers]), _stack([layer.bias for layer in layers])
        if norms is not None:
            scale, shift = _bn_affine(norms)
            weight, bias = weight * scale.unsqueeze(-1), bias * scale + shift
        return cls(weight, bias)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(shape[0], -1, shape[-1])
        return torch.baddbmm(self.bias, flat, self.weight).view(*shape[:-1], self.weight.shape[-1])


class _LayerNorm:
    def __init__(self, norms: Sequence[nn.LayerNorm]) -> None:
        self.shape = norms[0].normalized_shape
        self.eps = norms[0].eps
        self.weight = _stack([n.weight for n in norms])  # (k, d)
        self.bias = _stack([n.bias for n in norms])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        normed = F.layer_norm(x, self.shape, eps=self.eps)
        return torch.addcmul(self.bias.view(shape), normed, self.weight.view(shape))


def _bn_affine(norms: Sequence[nn.BatchNorm1d]) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as y = x · scale + shift, per member: (k, channels) each."""
    mean = _stack([n.running_mean for n in norms])
    var = _stack([n.running_var for n in norms])
    weight = _stack([n.weight for n in norms])
    bias = _stack([n.bias for n in norms])
    scale = weight / torch.sqrt(var + norms[0].eps)
    return scale, bias - mean * scale


class _Conv:
    """k Conv1d + BatchNorm1d pairs on (batch, k · in channels, positions), as one grouped convolution
    or, with ``unfold``, one batched matmul on the unfolded windows: for few input channels per member
    (the first layer), oneDNN's grouped convolution is slow (64 samples: 2.4 ms against 0.6 ms)."""

    def __init__(self, convs: Sequence[nn.Conv1d], norms: Sequence[nn.BatchNorm1d], unfold: bool) -> None:
        scale, shift = _bn_affine(norms)  # (k, out)
        weight = _stack([c.weight for c in convs]) * scale[:, :, None, None]  # (k, out, in, width)
        bias = _stack([c.bias for c in convs]) * scale + shift
        self.k, self.out, self.inputs, self.width = weight.shape
        (self.stride,), (self.padding,) = convs[0].stride, convs[0].padding
        self.unfold = unfold
        if unfold:
            self.weight = weight.flatten(2).transpose(1, 2).contiguous()  # (k, in · width, out)
            self.bias = bias.unsqueeze(1).contiguous()  # (k, 1, out)
        else:
            self.weight = weight.flatten(0, 1).contiguous()  # (k · out, in, width)
            self.bias = bias.flatten().contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.unfold:
            return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, groups=self.k)
        n, k = x.shape[0], self.k
        windows = F.pad(x, (self.padding, self.padding)).unfold(2, self.width, self.stride)
        positions = windows.shape[2]  # windows: (n, k · in, positions, width)
        windows = windows.view(n, k, self.inputs, positions, self.width).permute(1, 0, 3, 2, 4)
        out = torch.baddbmm(self.bias, windows.reshape(k, n * positions, -1), self.weight)
        return out.view(k, n, positions, self.out).permute(1, 0, 3, 2).reshape(n, k * self.out, positions)


class _BiGRU:
    """k single-layer bidirectional GRUs (batch_first) returning each direction's final state. The 2k
    cells (forward ones, then reverse ones on the flipped sequence) step together: one batched matmul
    per position instead of 2k."""

    def __init__(self, grus: Sequence[nn.GRU]) -> None:
        directions = ["", "_reverse"]

        def stacked(name: str) -> torch.Tensor:
            return _stack([getattr(g, f"{name}_l0{d}") for d in directions for g in grus])

        self.w_ih = stacked("weight_ih").transpose(1, 2).contiguous()  # (2k, in, 3h)
        self.w_hh = stacked("weight_hh").transpose(1, 2).contiguous()  # (2k, h, 3h)
        self.b_ih = stacked("bias_ih").unsqueeze(1)  # (2k, 1, 3h)
        self.b_hh = stacked("bias_hh").unsqueeze(1)
        self.hidden = grus[0].hidden_size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(k, batch, positions, in) → (k, batch, 2h): [forward final state, reverse final state]."""
        k, batch, positions, width = x.shape
        h = self.hidden
        both = torch.cat([x, x.flip(2)], dim=0).reshape(2 * k, batch * positions, width)
        gates_in = torch.baddbmm(self.b_ih, both, self.w_ih).view(2 * k, batch, positions, 3 * h)
        state = x.new_zeros(2 * k, batch, h)
        for t in range(positions):
            gates_h = torch.baddbmm(self.b_hh, state, self.w_hh)
            step = gates_in[:, :, t]
            reset, update = torch.sigmoid(step[..., : 2 * h] + gates_h[..., : 2 * h]).chunk(2, dim=-1)
            candidate = torch.tanh(torch.addcmul(step[..., 2 * h :], reset, gates_h[..., 2 * h :]))
            state = torch.addcmul(candidate, update, state - candidate)
        return torch.cat([state[:k], state[k:]], dim=-1)


class _Encoder:
    """One modality's k encoders: (k, n, features) scaled inputs → (k, n, d) tokens."""

    def __init__(self, encoders: Sequence[nn.Module]) -> None:
        first = encoders[0]
        self.kind = type(first)
        self.k = len(encoders)
        self.shortcut = _Linear.of([e.shortcut for e in encoders])
        self.norm = _LayerNorm([e.norm for e in encoders])
        if self.kind is MLPEncoder:
            self.hidden = _Linear.of([e.body[0] for e in encoders], [e.body[1] for e in encoders])
            self.out = _Linear.of([e.body[4] for e in encoders])
            return
        self.in_channels = first.in_channels
        self.conv1 = _Conv([e.conv[0] for e in encoders], [e.conv[1] for e in encoders], unfold=True)
        self.conv2 = _Conv([e.conv[3] for e in encoders], [e.conv[4] for e in encoders], unfold=False)
        self.project = _Linear.of([e.project for e in encoders])
        if self.kind is CNNGRUEncoder:
            self.pool = first.pool
            self.gru = _BiGRU([e.gru for e in encoders])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind is MLPEncoder:
            body = self.out(F.gelu(self.hidden(x)))
            return self.norm(body + self.shortcut(x))
        k, n, _ = x.shape
        channels = x.reshape(k, n, self.in_channels, -1).transpose(0, 1).reshape(n, k * self.in_channels, -1)
        maps = F.gelu(self.conv2(F.gelu(self.conv1(channels))))  # (n, k · channels, positions)
        if self.kind is CNNEncoder:
            summary = maps.mean(dim=2).view(n, k, -1).transpose(0, 1)
        else:
            pooled = self.pool(maps)
            sequence = pooled.view(n, k, -1, pooled.shape[-1]).permute(1, 0, 3, 2)  # (k, n, positions, c)
            summary = self.gru(sequence)
        return self.norm(self.project(summary) + self.shortcut(x))


class _Attention:
    """k pre-norm fusion blocks' multi-head self-attention, as ``nn.MultiheadAttention`` computes it with
    a key-padding mask, returning head-averaged weights."""

    def __init__(self, attns: Sequence[nn.MultiheadAttention]) -> None:
        first = attns[0]
        self.heads, self.d = first.num_heads, first.embed_dim
        self.in_proj = _Linear(
            _stack([a.in_proj_weight for a in attns]), _stack([a.in_proj_bias for a in attns])
        )
        self.out_proj = _Linear.of([a.out_proj for a in attns])

    def __call__(self, x: torch.Tensor, ignore: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, n, tokens, d = x.shape
        heads, width = self.heads, d // self.heads
        q, kk, v = self.in_proj(x).view(k, n, tokens, 3, heads, width).permute(3, 0, 1, 4, 2, 5)
        scores = torch.matmul(q * width**-0.5, kk.transpose(-2, -1))  # (k, n, heads, tokens, tokens)
        scores = scores.masked_fill(ignore[None, :, None, None, :], float("-inf"))
        weights = scores.softmax(dim=-1)
        out = torch.matmul(weights, v).permute(0, 1, 3, 2, 4).reshape(k, n, tokens, d)
        return self.out_proj(out), weights.mean(dim=2)


class StackedEnsemble:
    """The eval-mode forward of k ``MultiModalNet`` members with their weights stacked (copies, taken
    when built)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        first = members[0]
        self.members = list(members)
        self.names = list(first.names)
        self.arch = first.arch
        self.d = first.arch.d_model

        def buffers(prefix: str) -> dict[str, torch.Tensor]:
            return {
                name: _stack([getattr(m, f"{prefix}_{name}") for m in members]).unsqueeze(1)
                for name in self.names
            }

        self.mean, self.std = buffers("mean"), buffers("std")  # (k, 1, features)
        edges = buffers("edges") if first.arch.wide and first.arch.wide_bins else {}
        self.bins = {name: _Bins(e) for name, e in edges.items()}  # (k, 1, features, bins + 1) edges
        self.encoders = {name: _Encoder([m.encoders[name] for m in members]) for name in self.names}
        self.attention = isinstance(first.fusion, CrossModalAttentionFusion)
        if self.attention:
            self.cls = _stack([m.fusion.cls for m in members])  # (k, 1, 1, d)
            self.blocks = [
                (
                    _LayerNorm([m.fusion.blocks[i].norm_attn for m in members]),
                    _Attention([m.fusion.blocks[i].attn for m in members]),
                    _LayerNorm([m.fusion.blocks[i].norm_ff for m in members]),
                    _Linear.of([m.fusion.blocks[i].ff[0] for m in members]),
                    _Linear.of([m.fusion.blocks[i].ff[3] for m in members]),
                )
                for i in range(len(first.fusion.blocks))
            ]
            self.fusion_norm = _LayerNorm([m.fusion.norm for m in members])
        else:
            mixes = [m.fusion.mix for m in members]
            self.mix = (
                _Linear.of([x[0] for x in mixes]),
                _Linear.of([x[3] for x in mixes]),
                _LayerNorm([x[4] for x in mixes]),
            )
        self.head_norm = _LayerNorm([m.head[1] for m in members])
        self.head = _Linear.of([m.head[2] for m in members])
        self.wide = _Linear.of([m.wide for m in members]) if first.wide is not None else None
        self.deep_weight = _stack([m.deep_weight for m in members]).view(-1, 1, 1)

    def preprocess(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Each member's input transform: (batch, raw) → (batch, features), or (k, batch, features)
        where a transform is fitted (members may hold different ones)."""
        modules = [m.preprocess[name] for m in self.members]
        if all(p.identity for p in modules):
            return x
        return torch.stack([p(x) for p in modules])

    def __call__(self, inputs: dict[str, torch.Tensor], present: torch.Tensor) -> Stacked:
        k, batch = len(self.members), present.shape[0]
        tokens, wide_inputs = [], []
        for i, name in enumerate(self.names):
            rows = present[:, i]
            raw = self.preprocess(name, inputs[name])
            scaled = torch.nan_to_num(
                (raw - self.mean[name]) / self.std[name], nan=0.0, posinf=0.0, neginf=0.0
            )
            wide_inputs.append(scaled)
            if bool(rows.all()):
                tokens.append(self.encoders[name](scaled))
                continue
            token = scaled.new_zeros(k, batch, self.d)
            if bool(rows.any()):
                index = rows.nonzero(as_tuple=True)[0]
                token = token.index_copy(1, index, self.encoders[name](scaled[:, index]))
            tokens.append(token)
        stacked = torch.stack(tokens, dim=2)  # (k, batch, modalities, d)
        embedding, attention = self.fuse(stacked, present)
        logits = self.head(self.head_norm(embedding))
        if self.wide is not None:
            wide_logits = self.wide(self.wide_features(wide_inputs, present).to(logits.dtype))
            logits = self.deep_weight.to(logits.dtype) * logits + wide_logits
        return Stacked(logits=logits, embedding=embedding, tokens=stacked, attention=attention)

    def fuse(self, tokens: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        k, batch = tokens.shape[:2]
        if not self.attention:
            lower, upper, norm = self.mix
            mask = present.unsqueeze(-1).to(tokens.dtype).expand(k, -1, -1, -1)
            flat = torch.cat([tokens * mask, mask], dim=-1).flatten(2)
            return norm(upper(F.gelu(lower(flat)))), []
        cls = self.cls.to(tokens.dtype).expand(k, batch, 1, self.d)
        x = torch.cat([cls, tokens], dim=2)
        ignore = torch.cat([torch.zeros(batch, 1, dtype=torch.bool, device=present.device), ~present], dim=1)
        attention = []
        for norm_attn, attn, norm_ff, ff_in, ff_out in self.blocks:
            out, weights = attn(norm_attn(x), ignore)
            x = x + out
            x = x + ff_out(F.gelu(ff_in(norm_ff(x))))
            attention.append(weights)
        return self.fusion_norm(x[:, :, 0]), attention

    def wide_features(self, scaled: list[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """``MultiModalNet.wide_features`` for every member: (k, batch, wide width)."""
        k = len(self.members)
        blocks = []
        for i, x in enumerate(scaled):
            x = x.expand(k, *x.shape[-2:])
            has = present[:, i : i + 1].to(x.dtype)
            blocks.append(x * has)
            if self.bins:
                blocks.append(self.bins[self.names[i]](x) * has)
        missing = (~present).to(blocks[0].dtype).expand(k, -1, -1)
        return torch.cat([*blocks, missing], dim=-1)


class _Bins:
    """``network.piecewise_linear`` with a member axis and its edge arithmetic done once: x (k, batch,
    features) → (k, batch, features × bins), from edges (k, 1, features, bins + 1)."""

    def __init__(self, edges: torch.Tensor) -> None:
        self.low, self.high = edges[..., :-1].contiguous(), edges[..., 1:].contiguous()
        width = self.high - self.low
        self.flat = width <= 1e-6
        self.width = torch.where(self.flat, torch.ones_like(width), width)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        values = x.unsqueeze(-1)
        ramp = ((values - self.low.to(x.dtype)) / self.width.to(x.dtype)).clamp(0.0, 1.0)
        step = (values > self.high.to(x.dtype)).to(x.dtype)  # ties at the minimum: "above it"
        return torch.where(self.flat, step, ramp).flatten(2)
