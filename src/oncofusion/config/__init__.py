"""The one typed schema for ``params.yaml``, one module per section.

Every stage reads its settings through :func:`load_params`, so a typo or an impossible value fails once,
before any work starts, with the key path in the message (``synthesize.methylation.n_informative``).
Sections follow the DVC stages, so ``dvc.yaml`` can declare per stage only the params it reads. The
names below are re-exported so that ``from oncofusion.config import TrainParams`` works whichever
module a section lives in.
"""

from oncofusion.config.cohort import (
    CatalogueName,
    CohortParams,
    ModalityDecl,
    ModalityName,
    Orientation,
    SegmentsParams,
    TablesParams,
    VariantsParams,
    WindowParams,
)
from oncofusion.config.common import BaseParams, Fraction, PositiveInt, StrictModel
from oncofusion.config.dna import DnaParams
from oncofusion.config.evaluate import EvaluateParams
from oncofusion.config.model import EncoderChoice, ModelParams
from oncofusion.config.params import Params, load_params, parse_params
from oncofusion.config.register import RegisterParams
from oncofusion.config.simulate import SimulateParams
from oncofusion.config.split import SplitParams
from oncofusion.config.synthesize import (
    SYNTHETIC_MODALITIES,
    CopyNumberParams,
    FragmentomicsParams,
    InteractionParams,
    MethylationParams,
    SynthesizeParams,
)
from oncofusion.config.train import CalibrationParams, EnsembleParams, TrainParams
from oncofusion.config.tune import TUNABLE, SearchParam, TuneParams
from oncofusion.config.validate import ValidateParams
from oncofusion.errors import ConfigError

__all__ = [
    "SYNTHETIC_MODALITIES",
    "TUNABLE",
    "BaseParams",
    "CalibrationParams",
    "CatalogueName",
    "CohortParams",
    "ConfigError",
    "CopyNumberParams",
    "DnaParams",
    "EncoderChoice",
    "EnsembleParams",
    "EvaluateParams",
    "Fraction",
    "FragmentomicsParams",
    "InteractionParams",
    "MethylationParams",
    "ModalityDecl",
    "ModalityName",
    "ModelParams",
    "Orientation",
    "Params",
    "PositiveInt",
    "RegisterParams",
    "SearchParam",
    "SegmentsParams",
    "SimulateParams",
    "SplitParams",
    "StrictModel",
    "SynthesizeParams",
    "TablesParams",
    "TrainParams",
    "TuneParams",
    "ValidateParams",
    "VariantsParams",
    "WindowParams",
    "load_params",
    "parse_params",
]
