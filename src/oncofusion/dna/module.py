"""The dual-task LightningModule: masked LM + λ · contrastive tumour/normal InfoNCE, in one pass.

Each batch holds B variants, each as four variant-centred views (tumour and normal windows, each on
both strands; ``dna/representations.py``), 4B sequences through the encoder, each masked independently.
The contrastive term works on the hidden state at the variant's token (``contrastive_pooling:
variant``): a tumour window's two strands are the positive pair, and the negatives are the other
variants *and the variant's own normal window*, so the encoder learns to tell a variant from its
reference context rather than to ignore the allele. The seed's pairing (``mean``: mean-pooled tumour
and normal windows as the positive pair) taught exactly that invariance and lowered the SBS96 probe.

The LM head runs on the masked positions only (15% of tokens): ``EsmForMaskedLM.forward`` projects
every position onto the vocabulary and throws 85% of that away (benchmarks/dna_lm_speed.py).
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F

from oncofusion.config.dna import DnaFinetuneParams
from oncofusion.dna.model import base_of
from oncofusion.dna.objectives import IGNORE, info_nce, mask_tokens, mean_pool, variant_info_nce


class TokenRoles:
    """Which ids are specials (never masked, never drawn as a random replacement)."""

    def __init__(self, tokenizer):
        self.special = sorted(set(tokenizer.all_special_ids))
        self.pad_id = tokenizer.pad_token_id
        self.mask_id = tokenizer.mask_token_id
        special = set(self.special)
        self.sequence_ids = torch.tensor([i for i in range(len(tokenizer)) if i not in special])

    def keep(self, ids: torch.Tensor) -> torch.Tensor:
        """True on sequence tokens (not a special, not padding)."""
        return ~torch.isin(ids, torch.tensor(self.special, device=ids.device))


def encode(model, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    return base_of(model).esm(input_ids=ids, attention_mask=attention).last_hidden_state


class DualTaskModule(L.LightningModule):
    def __init__(self, model, roles: TokenRoles, params: DnaFinetuneParams, seed: int):
        super().__init__()
        self.model = model
        self.roles = roles
        self.params = params
        self.seed = seed

    def losses(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """Both losses on a batch of (ids (B, 4, T), anchors (B, 4)); ``targets`` are the ids the masked
        LM was asked for (never a special or padding token: the tests hold the step to that)."""
        views, anchors = batch[0], batch[1]
        b, n_views, width = views.shape
        ids = views.reshape(b * n_views, width)
        attention = (ids != self.roles.pad_id).long()
        keep = self.roles.keep(ids)
        inputs, labels = mask_tokens(
            ids, keep, self.roles.mask_id, self.roles.sequence_ids, self.params.mask_rate
        )
        hidden = encode(self.model, inputs, attention)
        picked = labels != IGNORE
        logits = base_of(self.model).lm_head(hidden[picked])
        target = labels[picked]
        mlm = F.cross_entropy(logits.float(), target) if len(target) else hidden.sum() * 0.0
        if self.params.contrastive_pooling == "variant":
            at = hidden[torch.arange(len(ids), device=ids.device), anchors.reshape(-1)].reshape(
                b, n_views, -1
            )
            contrastive = variant_info_nce(at, self.params.temperature)
        else:
            pooled = mean_pool(hidden, keep).reshape(b, n_views, -1)
            contrastive = info_nce(pooled[:, 0], pooled[:, 2], self.params.temperature)
        loss = mlm + self.params.contrastive_weight * contrastive
        accuracy = (logits.argmax(-1) == target).float().mean() if len(target) else torch.tensor(0.0)
        return {
            "loss": loss,
            "mlm": mlm,
            "contrastive": contrastive,
            "mlm_accuracy": accuracy,
            "targets": target.detach(),
        }

    def training_step(self, batch, batch_idx):
        out = self.losses(batch)
        n = len(batch[0])
        self.log("train/loss", out["loss"], batch_size=n, sync_dist=True)
        self.log("train/mlm_loss", out["mlm"], batch_size=n, sync_dist=True)
        self.log("train/contrastive_loss", out["contrastive"], batch_size=n, sync_dist=True)
        self.log("train/mlm_accuracy", out["mlm_accuracy"], batch_size=n, sync_dist=True)
        return out["loss"]

    def validation_step(self, batch, batch_idx):
        out = self.losses(batch)
        n = len(batch[0])
        for key in ("loss", "mlm", "contrastive", "mlm_accuracy"):
            self.log(f"val/{key}", out[key], batch_size=n, sync_dist=True)

    def configure_optimizers(self):
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(trainable, lr=self.params.lr, weight_decay=self.params.weight_decay)
        warmup, total = self.params.warmup_steps, self.params.max_steps

        def schedule(step: int) -> float:  # linear warm-up, then cosine to 10%
            if step < warmup:
                return (step + 1) / (warmup + 1)
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
        return {"optimizer": optimiser, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
