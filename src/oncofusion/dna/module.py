"""The dual-task LightningModule: masked LM + λ · contrastive tumour/normal InfoNCE, in one pass.

Each batch holds B variants: their tumour windows and matched-normal windows go through the encoder
together (2B sequences), each masked independently, so the masking doubles as the augmentation between
a positive pair that otherwise differs by one allele. The LM head runs on the masked positions only
(15% of tokens): ``EsmForMaskedLM.forward`` projects every position onto the 4,105-token vocabulary and
throws 85% of that away, which on a small model is most of the step (benchmarks/dna_lm_speed.py).
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F

from oncofusion.config.dna import DnaFinetuneParams
from oncofusion.dna.model import base_of
from oncofusion.dna.objectives import IGNORE, info_nce, mask_tokens, mean_pool


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


@torch.no_grad()
def embed_ids(
    model, ids: torch.Tensor, roles: TokenRoles, batch_size: int, device: torch.device
) -> torch.Tensor:
    """Mean-pooled embeddings of padded id rows, in batches (float32, on the CPU): the mean of the
    last hidden states over each window's sequence tokens, unmasked. Batches of ~64 windows run
    fastest on a CPU (they stay in cache); larger ones do not help there."""
    out = []
    for chunk in torch.split(ids, batch_size):
        chunk = chunk.to(device)
        attention = (chunk != roles.pad_id).long()
        hidden = encode(model, chunk, attention)
        out.append(mean_pool(hidden.float(), roles.keep(chunk)).cpu())
    return torch.cat(out) if out else torch.zeros(0)


class DualTaskModule(L.LightningModule):
    def __init__(self, model, roles: TokenRoles, params: DnaFinetuneParams, seed: int):
        super().__init__()
        self.model = model
        self.roles = roles
        self.params = params
        self.seed = seed

    def losses(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        tumour, normal = batch[0], batch[1]
        ids = torch.cat([tumour, normal])
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
        pooled = mean_pool(hidden, keep)
        contrastive = info_nce(pooled[: len(tumour)], pooled[len(tumour) :], self.params.temperature)
        loss = mlm + self.params.contrastive_weight * contrastive
        accuracy = (logits.argmax(-1) == target).float().mean() if len(target) else torch.tensor(0.0)
        return {"loss": loss, "mlm": mlm, "contrastive": contrastive, "mlm_accuracy": accuracy}

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
