"""Checks on a fit's inputs that run before a single step: each problem here would otherwise surface
late (a member early-stopping on a fold without a class, calibration on a split that lacks one) or not
at all (a class silently dropped from the ensemble)."""

from __future__ import annotations

import torch

from oncofusion.config import Params
from oncofusion.errors import ConfigError
from oncofusion.training.data import CohortTensors


def class_counts(data: CohortTensors, classes: list[str]) -> list[int]:
    """Training samples per class; a class without any means the labels do not match the class list."""
    counts = torch.bincount(data.target, minlength=len(classes)).tolist()
    missing = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if missing:
        raise ConfigError(
            f"classes {missing} have no training samples; the labels do not match the class list"
        )
    return counts


def require_training_rows(data: CohortTensors, names: list[str]) -> None:
    """A modality must be measured on some training samples, or its transforms and encoder would be
    fitted on nothing and applied to validation and test samples anyway."""
    counts = data.present.sum(dim=0).tolist()
    lacking = [f"{m} ({n})" for m, n in zip(names, counts, strict=True) if n < 2]
    if lacking:
        raise ConfigError(
            f"modalities measured on fewer than 2 training samples: {', '.join(lacking)}; leave them out "
            "with model.modalities or put samples that have them into the training split"
        )


def require_fold_members(data: CohortTensors, classes: list[str], folds: int) -> None:
    """Stratified k-fold needs every class in every fold, or a member early-stops on a fold that lacks a
    class and the ensemble silently loses it."""
    if folds < 2:
        return
    counts = torch.bincount(data.target, minlength=len(classes)).tolist()
    short = [f"{c} ({n})" for c, n in zip(classes, counts, strict=True) if n < folds]
    if short:
        raise ConfigError(
            f"train.ensemble.folds is {folds} but these classes have fewer training samples than that: "
            f"{', '.join(short)}; lower train.ensemble.folds (1 trains one model) or add samples"
        )


def require_calibration_classes(params: Params, val: CohortTensors, classes: list[str]) -> None:
    """Temperature and conformal thresholds are fitted on the val split: a class absent there would get
    no threshold."""
    calibration = params.train.calibration
    if not calibration.temperature and calibration.coverage is None:
        return
    counts = torch.bincount(val.target, minlength=len(classes)).tolist()
    absent = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if absent:
        raise ConfigError(
            f"calibration runs on the val split, which has no samples of class(es) {absent}; give the "
            "val split every class (split.val, or the split column of your labels) or set "
            "train.calibration.temperature false and train.calibration.coverage null"
        )


def require_target_mix_classes(params: Params, classes: list[str]) -> None:
    """The target mix must name exactly the cohort's classes: a missing class would have no share to
    call it under, and a misspelt one would be silently dropped."""
    mix = params.train.calibration.target_mix
    if mix is None:
        return
    missing, unknown = sorted(set(classes) - set(mix)), sorted(set(mix) - set(classes))
    problems = ([f"no share for {missing}"] if missing else []) + (
        [f"{unknown} not a class of this cohort"] if unknown else []
    )
    if problems:
        raise ConfigError(
            f"train.calibration.target_mix needs one share per class of the cohort {classes}: "
            + "; ".join(problems)
        )
