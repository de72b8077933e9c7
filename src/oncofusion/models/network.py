"""The multi-modal classifier as a plain torch module: preprocessing, encoders, fusion, head.

Standardisation statistics (fitted on the training split only) are buffers of the module, so a saved
model carries its preprocessing and serving cannot apply different scaling. A NaN feature inside a
present modality becomes 0 after scaling, i.e. the training mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pydantic import BaseModel
from torch import nn

from oncofusion.models.encoders import build_encoder
from oncofusion.models.fusion import ConcatFusion, CrossModalAttentionFusion
from oncofusion.models.preprocess import ModalityPreprocess
from oncofusion.models.vectorised import StackedEnsemble, state_key, supported


class ModalityInput(BaseModel):
    name: str
    kind: str
    n_features: int  # what the encoder sees, after the preprocessing below
    encoder: str
    n_inputs: int | None = None  # raw features the model takes (None: n_features, no preprocessing)
    transform: str = "none"
    top_k: int | None = None
    channels: int = 1  # features are channel-major: channels × positions

    @property
    def raw_width(self) -> int:
        return self.n_inputs if self.n_inputs is not None else self.n_features


class Architecture(BaseModel):
    """Everything needed to rebuild the network from a checkpoint."""

    modalities: list[ModalityInput]
    n_classes: int
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    dropout: float = 0.1
    fusion: str = "attention"
    hidden: int = 256
    channels: int = 32
    gru_hidden: int = 64
    wide: bool = False  # a linear path from the scaled features to the logits (bundles before it: off)
    wide_bins: int = 0  # quantile bins of the wide path's piecewise-linear encoding (bundles before it: 0)

    @property
    def wide_width(self) -> int:
        """Scaled features of every modality, each also as ``wide_bins`` piecewise-linear components,
        plus one missing-indicator per modality."""
        n_features = sum(m.n_features for m in self.modalities)
        return n_features * (1 + self.wide_bins) + len(self.modalities)


@dataclass
class Output:
    logits: torch.Tensor  # (batch, classes)
    embedding: torch.Tensor  # (batch, d)
    tokens: torch.Tensor  # (batch, modalities, d)
    attention: list[torch.Tensor]  # per layer (batch, 1 + modalities, 1 + modalities)
    wide_logits: torch.Tensor | None = None  # the wide path's share of ``logits`` (None: no wide path)

    def modality_attention(self) -> torch.Tensor | None:
        """How much [CLS] attends to each modality in the last layer, renormalised over modalities."""
        if not self.attention:
            return None
        row = self.attention[-1][:, 0, 1:].float()
        return row / row.sum(dim=1, keepdim=True).clamp_min(1e-12)


class MultiModalNet(nn.Module):
    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        self.names = [m.name for m in arch.modalities]
        self.encoders = nn.ModuleDict(
            {
                m.name: build_encoder(
                    m.encoder,
                    m.n_features,
                    arch.d_model,
                    hidden=arch.hidden,
                    channels=arch.channels,
                    gru_hidden=arch.gru_hidden,
                    dropout=arch.dropout,
                    in_channels=m.channels,
                )
                for m in arch.modalities
            }
        )
        self.preprocess = nn.ModuleDict(
            {m.name: ModalityPreprocess(m.raw_width, m.transform, m.top_k) for m in arch.modalities}
        )
        for m in arch.modalities:
            self.register_buffer(f"mean_{m.name}", torch.zeros(m.n_features))
            self.register_buffer(f"std_{m.name}", torch.ones(m.n_features))
            if arch.wide and arch.wide_bins:
                # Bin edges of each scaled feature (quantiles of the training split), first to last.
                edges = torch.linspace(-1.0, 1.0, arch.wide_bins + 1).repeat(m.n_features, 1)
                self.register_buffer(f"edges_{m.name}", edges)
        if arch.fusion == "attention":
            self.fusion: nn.Module = CrossModalAttentionFusion(
                arch.d_model, arch.n_heads, arch.n_layers, arch.dropout
            )
        elif arch.fusion == "concat":
            self.fusion = ConcatFusion(arch.d_model, len(arch.modalities), arch.dropout)
        else:
            raise ValueError(f"unknown fusion '{arch.fusion}'")
        self.head = nn.Sequential(
            nn.Dropout(arch.dropout), nn.LayerNorm(arch.d_model), nn.Linear(arch.d_model, arch.n_classes)
        )
        # Zero-initialised, so training starts from the transformer alone and the L2 penalty pulls the
        # linear weights back towards nothing.
        self.wide = nn.Linear(arch.wide_width, arch.n_classes) if arch.wide else None
        if self.wide is not None:
            nn.init.zeros_(self.wide.weight)
            nn.init.zeros_(self.wide.bias)
            # The transformer's head starts at zero too: joint training begins from the wide path's
            # fitted start exactly, and the deep part's contribution grows only as far as the held-out
            # loss that early stopping watches allows (a random head adds noise logits from epoch one).
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)
        # How much of the transformer's logits joins the wide path's, chosen after training on held-out
        # rows (training/deep_weight.py); 1 until then and in bundles from before it.
        self.register_buffer("deep_weight", torch.ones(()))

    @torch.no_grad()
    def fit_scaling(self, train_inputs: dict[str, torch.Tensor], present: torch.Tensor) -> None:
        """Fit the input transforms, then per-feature mean/std, on training samples that have the
        modality (NaNs ignored). Callers pass the training split only."""
        for i, name in enumerate(self.names):
            raw = train_inputs[name][present[:, i]].float()
            self.preprocess[name].fit(raw)
            values = self.preprocess[name](raw)
            mean = torch.nanmean(values, dim=0)
            centred = torch.where(torch.isnan(values), torch.zeros_like(values), values - mean)
            count = (~torch.isnan(values)).sum(dim=0).clamp_min(2)
            std = (centred.pow(2).sum(dim=0) / (count - 1)).sqrt()
            getattr(self, f"mean_{name}").copy_(torch.nan_to_num(mean, nan=0.0))
            getattr(self, f"std_{name}").copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
            if self.arch.wide and self.arch.wide_bins:
                getattr(self, f"edges_{name}").copy_(self._quantile_edges(name, values))

    def _quantile_edges(self, name: str, values: torch.Tensor) -> torch.Tensor:
        """Equal-frequency bin edges of each scaled training feature (NaNs ignored; a feature with no
        value gets edges at 0, the training mean, so its encoding is a constant step)."""
        scaled = (values - getattr(self, f"mean_{name}")) / getattr(self, f"std_{name}")
        levels = torch.linspace(0.0, 1.0, self.arch.wide_bins + 1, dtype=scaled.dtype)
        edges = torch.nanquantile(scaled, levels, dim=0).T.contiguous()
        return torch.nan_to_num(edges, nan=0.0)

    def scale(self, name: str, x: torch.Tensor) -> torch.Tensor:
        scaled = (x - getattr(self, f"mean_{name}")) / getattr(self, f"std_{name}")
        return torch.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)

    def encode(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.encoders[name](self.scale(name, self.preprocess[name](x)))

    def forward(self, inputs: dict[str, torch.Tensor], present: torch.Tensor, noise: float = 0.0) -> Output:
        """Encode each modality for the samples that have it; absent ones get no token at all.

        Absent rows never pass through an encoder, so they cannot shift BatchNorm statistics (which
        would amount to zero-imputation); their token slots stay zero and are masked in fusion. The
        wide path sees an absent modality's scaled features as zeros (the training mean), its
        piecewise-linear components as zeros (at or below the lowest knot) and its missing indicator,
        whose weight absorbs the difference as a per-class offset where training rows lack the modality.
        Encoding the bins at the mean instead changed nothing measurable (scikit-learn, 3 repeats: 30%
        missing synthetic 0.750 against 0.759, breast without test protein 0.949 against 0.952).
        ``noise`` (training only) adds Gaussian noise, in standard deviations, to the scaled inputs.
        """
        batch = present.shape[0]
        present = present.clone()
        tokens, wide_inputs = [], []
        for i, name in enumerate(self.names):
            rows = present[:, i]
            if self.training and int(rows.sum()) == 1:
                present[:, i] = False  # BatchNorm cannot train on one sample: mask it for this step
                rows = present[:, i]
            scaled = self.scale(name, self.preprocess[name](inputs[name]))
            if noise > 0 and self.training:
                scaled = scaled + noise * torch.randn_like(scaled)
            if self.wide is not None:
                wide_inputs.append(scaled)
            if bool(rows.all()):
                tokens.append(self.encoders[name](scaled))
                continue
            token = scaled.new_zeros(batch, self.arch.d_model)
            if bool(rows.any()):
                encoded = self.encoders[name](scaled[rows])
                token = token.to(encoded.dtype).index_put((rows.nonzero(as_tuple=True)[0],), encoded)
            tokens.append(token)
        stacked = torch.stack(tokens, dim=1)
        fused = self.fusion(stacked, present)
        logits = self.head(fused.embedding)
        wide_logits = None
        if self.wide is not None:
            wide_logits = self.wide(self.wide_features(wide_inputs, present).to(logits.dtype))
            logits = self.deep_weight.to(logits.dtype) * logits + wide_logits
        return Output(
            logits=logits,
            embedding=fused.embedding,
            tokens=stacked,
            attention=fused.attention,
            wide_logits=wide_logits,
        )

    def wide_features(self, scaled: list[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """What the wide path sees: each modality's scaled features and, with ``wide_bins``, their
        piecewise-linear encoding (all zero where the sample lacks the modality), then one
        missing-indicator per modality. The logistic-regression start fits on exactly this."""
        blocks = []
        for i, x in enumerate(scaled):
            has = present[:, i : i + 1].to(x.dtype)
            blocks.append(x * has)
            if self.arch.wide_bins:
                encoded = piecewise_linear(x, getattr(self, f"edges_{self.names[i]}").to(x.dtype))
                blocks.append(encoded * has)
        return torch.cat([*blocks, (~present).to(scaled[0].dtype)], dim=1)

    def wide_penalty(self) -> torch.Tensor:
        """Sum of squared wide weights (the bias is not penalised), for the L2 term of the loss."""
        if self.wide is None:
            return self.head[-1].weight.new_zeros(())
        return self.wide.weight.pow(2).sum()


def piecewise_linear(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear encoding (Gorishniy et al., 2022, "On embeddings for numerical features"):
    component t of feature j is 0 below bin t, 1 above it and linear inside, so a linear layer on it is
    any continuous piecewise-linear function of the feature with knots at the training quantiles. A
    zero-width bin (ties, as in sparse counts) becomes a step: 1 strictly above its edge, so bins tied at
    a zero-inflated feature's minimum encode "non-zero" rather than a constant.

    ``x`` (batch, features), ``edges`` (features, bins + 1) → (batch, features × bins)."""
    low, high = edges[:, :-1], edges[:, 1:]
    width = high - low
    flat = width <= 1e-6
    values = x.unsqueeze(-1)
    ramp = ((values - low) / torch.where(flat, torch.ones_like(width), width)).clamp(0.0, 1.0)
    step = (values > high).to(x.dtype)  # ties at the minimum (zero-inflated counts): "above it"
    return torch.where(flat, step, ramp).flatten(1)


class EnsembleNet(nn.Module):
    """The served model: k members (cross-validation folds; k = 1 is a single model) whose logits are
    averaged, then divided by a temperature fitted on held-out data.

    Members share their input transforms and scaling (fitted once on the whole training split), so the
    baselines and the attributions see one set of preprocessed features. Embeddings are concatenated
    (independently trained members live in different spaces); attention maps are averaged.
    """

    # Inference (eval, no gradient) runs the members in one vectorised pass; False: one after another.
    vectorised: bool = True

    def __init__(self, arch: Architecture, n_members: int = 1) -> None:
        super().__init__()
        self.arch = arch
        self.members = nn.ModuleList(MultiModalNet(arch) for _ in range(n_members))
        self.register_buffer("temperature", torch.ones(()))
        # Subtracted from the logits before the call (not from the probabilities): the log training-class
        # frequencies for the balanced decision, zeros (the most probable class) in bundles before it.
        self.register_buffer("decision_offset", torch.zeros(arch.n_classes))
        # The class mix the calls are made for with decision: target; zeros: none given (bundles before
        # format 5 and every other decision).
        self.register_buffer("target_mix", torch.zeros(arch.n_classes))

    @property
    def names(self) -> list[str]:
        return self.members[0].names

    @property
    def preprocess(self) -> nn.ModuleDict:
        return self.members[0].preprocess

    def forward(self, inputs: dict[str, torch.Tensor], present: torch.Tensor) -> Output:
        stacked = self._stacked_members(present)
        if stacked is not None:
            out = stacked(inputs, present)
            return Output(
                logits=out.logits.mean(dim=0) / self.temperature,
                embedding=out.embedding.transpose(0, 1).flatten(1),
                tokens=out.tokens[0],
                attention=[layer.mean(dim=0) for layer in out.attention],
            )
        outputs = [member(inputs, present) for member in self.members]
        logits = torch.stack([o.logits for o in outputs]).mean(dim=0) / self.temperature
        attention = [
            torch.stack([o.attention[layer] for o in outputs]).mean(dim=0)
            for layer in range(len(outputs[0].attention))
        ]
        return Output(
            logits=logits,
            embedding=torch.cat([o.embedding for o in outputs], dim=1),
            tokens=outputs[0].tokens,
            attention=attention,
        )

    def _stacked_members(self, present: torch.Tensor) -> StackedEnsemble | None:
        """The members in one vectorised pass (models/vectorised.py), for inference only: eval mode, no
        gradient, no autocast. Built on first use and rebuilt whenever a member's tensor changes (its
        identity, storage or version counter: ``load_state_dict``, an optimiser step, ``.to()``)."""
        if (
            not self.vectorised
            or self.training
            or torch.is_grad_enabled()
            or torch.is_autocast_enabled(present.device.type)
            or present.shape[0] == 0
        ):
            return None
        found = state_key(self.members)
        if found is None:
            return None
        key, tensors = found
        cached = self.__dict__.get("_stacked")
        if cached is not None and cached[0] == key:
            return cached[2]
        stacked = StackedEnsemble(list(self.members)) if supported(self.members) else None
        self.__dict__["_stacked"] = (key, tensors, stacked)
        return stacked

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_stacked", None)  # copies of the weights, rebuilt on use
        return state

    @property
    def decision(self) -> str:
        """How the model calls a class: "target" when it holds a target mix, "balanced" when its offsets
        differ between classes, else "prevalence" (the most probable class; equal offsets change no
        call)."""
        if bool(self.target_mix.any()):
            return "target"
        offset = self.decision_offset
        return "balanced" if float(offset.max() - offset.min()) > 0.0 else "prevalence"

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        """The called class of each row of ``forward``'s (temperature-scaled) logits."""
        return (logits.float() - self.decision_offset.float()).argmax(dim=-1)

    @torch.no_grad()
    def set_balanced_decision(self, class_counts: list[int]) -> None:
        """Call the class with the highest probability relative to its training frequency. For
        probabilities calibrated to the training prevalence (the val-fitted temperature aims there) this
        is the Bayes rule for balanced error, which does not move with a new cohort's prevalence. The
        losses' class weights (focal α, the wide start's balanced regression) already pull towards
        balanced probabilities; where they got all the way, this offset counts the prevalence twice and
        over-calls rare classes, which is why it is not the default."""
        counts = torch.as_tensor(class_counts, dtype=torch.float32).clamp_min(1.0)
        self.decision_offset.copy_((counts / counts.sum()).log())

    @torch.no_grad()
    def set_target_decision(self, class_counts: list[int], target_mix: list[float]) -> None:
        """Call the most probable class under ``target_mix`` instead of the training mix: each class's
        probability reweighted by τ_k / π_k (prior shift, Saerens et al. 2002). For a site that knows
        its prevalence; ``evaluate``'s label-shift check estimates one from a batch of the cohort."""
        counts = torch.as_tensor(class_counts, dtype=torch.float32).clamp_min(1.0)
        mix = torch.as_tensor(target_mix, dtype=torch.float32)
        mix = mix / mix.sum()
        self.decision_offset.copy_((counts / counts.sum()).log() - mix.log())
        self.target_mix.copy_(mix)
