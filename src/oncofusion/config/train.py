"""The `train` section: optimisation, the cross-validated ensemble and calibration."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from oncofusion.config.common import PositiveInt, StrictModel


class EnsembleParams(StrictModel):
    """Cross-validated training inside the training split: ``folds`` members, each early-stopped on its
    own held-out fold, averaged (in logit space) at prediction time. 1: one model early-stopped on
    the val split. With val only ~50 samples on a 350-sample cohort, one early-stopping decision on it
    is mostly noise; k folds use every training sample for stopping once and give an ensemble."""

    folds: Annotated[int, Field(ge=1, le=20)] = 5
    # Members trained at once in separate processes; 0: as many as the CPU cores allow (on a GPU,
    # members train one after another).
    workers: Annotated[int, Field(ge=0)] = 0


class CalibrationParams(StrictModel):
    """Fitted on the val split (held out from training and early stopping) and stored in the model."""

    temperature: bool = True  # temperature scaling of the logits (argmax, hence accuracy, unchanged)
    # Split-conformal prediction sets with this coverage; null: no sets.
    coverage: Annotated[float, Field(gt=0.0, lt=1.0)] | None = 0.9
    # Class-conditional (Mondrian) thresholds guarantee the coverage per class but need enough val
    # samples of every class; auto: per class when each has ≥ 1/(1 - coverage) - 1, else one threshold.
    class_conditional: Literal["auto", "always", "never"] = "auto"
    # Which class a sample is called: prevalence, the most probable class, or balanced, the class with
    # the highest probability relative to its training-split frequency (argmax p_k / π_k, the Bayes rule
    # for balanced error when p is calibrated to the training prevalence). Balanced calls do not lean
    # on the training cohort's prevalence: on cfDNA, whose test set is another cohort, +0.049 macro-F1
    # (5 of 5 repeats); where test and training share their prevalence, −0.011 to +0.006. Probabilities
    # and prediction sets are the same either way; a balanced call can change with the temperature.
    # target: the Bayes call for a cohort whose class mix is ``target_mix`` (a deployment site's known
    # prevalence), argmax p_k · τ_k / π_k; balanced is the same rule with equal τ.
    decision: Literal["balanced", "prevalence", "target"] = "prevalence"
    # {class: share} for decision: target, shares > 0 summing to 1, every class of the cohort named.
    target_mix: dict[str, Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]] | None = None

    @field_validator("target_mix", mode="before")
    @classmethod
    def _class_names_as_text(cls, value: object) -> object:
        """Labels are read as text, but YAML reads a class named 0, 1 or yes as a number or a boolean."""
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _target(self) -> CalibrationParams:
        if (self.decision == "target") != (self.target_mix is not None):
            raise ValueError(
                "target_mix goes with decision: target and only with it "
                f"(decision is '{self.decision}', target_mix is "
                f"{'set' if self.target_mix is not None else 'not set'})"
            )
        if self.target_mix is not None and abs(sum(self.target_mix.values()) - 1.0) > 1e-3:
            raise ValueError(f"target_mix shares sum to {sum(self.target_mix.values()):.4f}, not 1")
        return self


class TrainParams(StrictModel):
    max_epochs: PositiveInt = 50
    batch_size: Annotated[int, Field(ge=2)] = 64
    lr: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0.0)] = 1e-2
    warmup_epochs: Annotated[int, Field(ge=0)] = 3
    gradient_clip: Annotated[float, Field(gt=0.0)] = 1.0
    focal_gamma: Annotated[float, Field(ge=0.0)] = 2.0
    # Per-class focal α in class order; null means inverse class frequency on the training split.
    focal_alpha: list[Annotated[float, Field(gt=0.0)]] | None = None
    sparsity_lambda: Annotated[float, Field(ge=0.0)] = 0.01
    modality_dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    progressive: bool = True
    pretrain_epochs: Annotated[int, Field(ge=0)] = 5
    early_stopping_patience: PositiveInt = 10
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"
    # Data-parallel training (Lightning DDP) of the train stage: devices per node × num_nodes processes.
    # 1 × 1 is one device. "auto" is DDP whenever there is more than one process.
    devices: PositiveInt = 1
    num_nodes: PositiveInt = 1
    strategy: Literal["auto", "ddp"] = "auto"
    deterministic: bool = True
    # Final fit on train+val for a fixed number of epochs (the tuned trial's, else max_epochs), without
    # early stopping. Val metrics are then in-sample: the registry's val comparison favours such a model.
    refit_on_train_val: bool = False
    # What early stopping and the checkpoint choice watch: the validation log-loss (smooth, so less
    # noisy on small validation sets) or macro-F1.
    # val_balanced_loss weighs each class by its focal α (inverse frequency by default).
    monitor: Literal["val_loss", "val_balanced_loss", "val_f1_macro"] = "val_loss"
    wide_l2: Annotated[float, Field(ge=0.0)] = 1e-3  # L2 penalty on the wide path's weights
    # Where the wide path starts: a logistic regression fitted on the member's training rows, or zeros.
    wide_init: Literal["logistic", "zeros"] = "logistic"
    # Inverse L2 strength of that logistic regression (scikit-learn's C). Stronger than the baseline's
    # 0.1: with the binned encoding the wide path has (1 + wide_bins) × as many weights.
    wide_init_c: Annotated[float, Field(gt=0.0)] = 0.01
    # That regression sees only the features whose class association passes Benjamini-Hochberg at this
    # false-discovery rate on the member's rows (ANOVA F per feature; training/wide_start.py); the
    # others start at zero weight. null: every feature. The transformer always sees every feature.
    wide_screen_fdr: Annotated[float, Field(gt=0.0, le=1.0)] | None = 0.01
    # The wide path's learning rate as a share of train.lr (0: it keeps its logistic-regression start
    # and the transformer learns only what that misses).
    wide_lr_scale: Annotated[float, Field(ge=0.0)] = 0.0
    # How much of the transformer's logits joins the wide path's: chosen on the k-fold members'
    # out-of-fold log-loss (training/deep_weight.py), or all of it (full). Needs the wide path and
    # ensemble.folds >= 2; otherwise all of it.
    deep_weight: Literal["out_of_fold", "full"] = "out_of_fold"
    input_noise: Annotated[float, Field(ge=0.0)] = 0.0  # Gaussian noise (in sd units) on scaled inputs
    ensemble: EnsembleParams = EnsembleParams()
    calibration: CalibrationParams = CalibrationParams()

    @model_validator(mode="after")
    def _pretrain_fits(self) -> TrainParams:
        if self.progressive and self.pretrain_epochs >= self.max_epochs:
            raise ValueError(
                f"pretrain_epochs ({self.pretrain_epochs}) must be below max_epochs ({self.max_epochs}) "
                "to leave epochs for joint training"
            )
        if self.devices * self.num_nodes > 1 and self.ensemble.folds > 1:
            raise ValueError(
                f"devices ({self.devices}) × num_nodes ({self.num_nodes}) > 1 trains one model with DDP; "
                f"the {self.ensemble.folds}-fold ensemble trains its members in worker processes instead: "
                "set ensemble.folds to 1, or devices and num_nodes to 1"
            )
        calibrating = self.calibration.temperature or self.calibration.coverage is not None
        if self.refit_on_train_val and calibrating:
            raise ValueError(
                "refit_on_train_val trains on the val split, which calibration (temperature scaling and "
                "conformal sets) needs held out: set calibration.temperature false and calibration.coverage "
                "null, or refit_on_train_val false"
            )
        return self
