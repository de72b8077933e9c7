"""The `tune` section: the Optuna study and its search space."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from oncofusion.config.common import PositiveInt, StrictModel


class SearchParam(StrictModel):
    """One dimension of the tuning search space (Optuna distribution)."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[bool | int | float | str] | None = None

    @model_validator(mode="after")
    def _well_formed(self) -> SearchParam:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} parameter needs 'low' and 'high'")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is greater than high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scaled range needs low > 0, got {self.low:g}")
        return self


# Which params section each tunable name lives in; anything else in the search space is an error.
TUNABLE = {
    "d_model": "model",
    "n_heads": "model",
    "n_layers": "model",
    "dropout": "model",
    "hidden": "model",
    "channels": "model",
    "gru_hidden": "model",
    "fusion": "model",
    "lr": "train",
    "weight_decay": "train",
    "focal_gamma": "train",
    "sparsity_lambda": "train",
    "modality_dropout": "train",
    "progressive": "train",
    "pretrain_epochs": "train",
    "batch_size": "train",
    "wide": "model",
    "wide_l2": "train",
    "wide_bins": "model",
    "wide_init_c": "train",
    "wide_screen_fdr": "train",
    "wide_lr_scale": "train",
    "input_noise": "train",
}


def _default_search_space() -> dict[str, SearchParam]:
    return {
        "d_model": SearchParam(type="categorical", choices=[64, 128]),
        "n_heads": SearchParam(type="categorical", choices=[2, 4]),
        "n_layers": SearchParam(type="int", low=1, high=3),
        "dropout": SearchParam(type="float", low=0.0, high=0.4),
        "lr": SearchParam(type="float", low=1e-4, high=3e-3, log=True),
        "weight_decay": SearchParam(type="float", low=1e-4, high=1e-1, log=True),
        "focal_gamma": SearchParam(type="float", low=0.0, high=3.0),
        "sparsity_lambda": SearchParam(type="float", low=0.0, high=0.1),
        "modality_dropout": SearchParam(type="float", low=0.0, high=0.3),
        "progressive": SearchParam(type="categorical", choices=[True, False]),
    }


class TuneParams(StrictModel):
    study: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")] = "oncofusion"
    # SQLAlchemy URL; null means $OPTUNA_STORAGE, else sqlite:///<project>/optuna.db.
    storage: str | None = None
    n_trials: Annotated[int, Field(ge=0)] = 6  # 0: no study; train uses the params as given
    timeout_s: Annotated[float, Field(gt=0)] = 900.0
    max_epochs: PositiveInt = 12
    pruner: Literal["median", "hyperband", "none"] = "median"
    pruner_warmup_epochs: Annotated[int, Field(ge=0)] = 6  # > train.pretrain_epochs: no pruning on -1
    heartbeat_s: Annotated[int, Field(ge=1)] = 10
    max_retry: Annotated[int, Field(ge=0)] = 2
    search_space: dict[str, SearchParam] = Field(default_factory=_default_search_space)

    @model_validator(mode="after")
    def _known_names(self) -> TuneParams:
        unknown = sorted(set(self.search_space) - set(TUNABLE))
        if unknown:
            raise ValueError(f"unknown search_space parameter(s) {unknown}; tunable: {sorted(TUNABLE)}")
        return self
