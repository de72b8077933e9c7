"""All sections together, and the one place params files are parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, ValidationError

from oncofusion.config.cohort import CohortParams
from oncofusion.config.common import BaseParams, StrictModel
from oncofusion.config.dna import DnaParams
from oncofusion.config.evaluate import EvaluateParams
from oncofusion.config.model import ModelParams
from oncofusion.config.register import RegisterParams
from oncofusion.config.simulate import SimulateParams
from oncofusion.config.split import SplitParams
from oncofusion.config.synthesize import SynthesizeParams
from oncofusion.config.train import TrainParams
from oncofusion.config.tune import TuneParams
from oncofusion.config.validate import ValidateParams
from oncofusion.errors import ConfigError


class Params(StrictModel):
    base: BaseParams = BaseParams()
    cohort: CohortParams = CohortParams()
    synthesize: SynthesizeParams = SynthesizeParams()
    simulate: SimulateParams = SimulateParams()
    # The section is named after its stage; the attribute avoids shadowing BaseModel.validate.
    validation: ValidateParams = Field(ValidateParams(), alias="validate")
    split: SplitParams = SplitParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    tune: TuneParams = TuneParams()
    # Named after its stage; the attribute avoids shadowing BaseModel.register.
    registration: RegisterParams = Field(RegisterParams(), alias="register")
    dna: DnaParams = DnaParams()

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, protected_namespaces=()
    )


def _format_errors(source: str, error: ValidationError) -> str:
    lines = [f"{source}: {error.error_count()} invalid setting(s)"]
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "<root>"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see params.yaml for the allowed keys)"
        got = item.get("input")
        suffix = (
            ""
            if item["type"] in {"extra_forbidden", "missing"} or isinstance(got, dict)
            else f" (got {got!r})"
        )
        lines.append(f"  {path}: {message}{suffix}")
    return "\n".join(lines)


def parse_params(raw: dict[str, Any] | None, source: str = "params") -> Params:
    """Validate an already-loaded mapping; ``source`` names it in error messages."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(source, error)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read params file ({error.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_params(raw, source=str(path))
