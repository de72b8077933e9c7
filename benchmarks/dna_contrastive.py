"""What the contrastive weight λ does: the pipeline's dna_finetune on the default variant cohort at
λ = 0, 0.1 and 1 with the variant-token pairing, and λ = 1 with the seed's mean-pooled pairing, over
seeds; for each, the held-out SBS96 probe, masked-LM accuracy, and cancer-type macro-F1 of logistic
regression on each sample's mean representation (up to ``--per-sample`` variants a sample).

    .venv/bin/python benchmarks/dna_contrastive.py --cohort /path/to/clone   # after `make repro` there

Writes benchmarks/results/dna_contrastive-cpu-2cores.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results_io import RESULTS, cpu_name, write_report

SETTINGS = [("variant", 0.0), ("variant", 0.1), ("variant", 1.0), ("mean", 1.0)]


def typing_f1(samples, labels, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = labels.set_index("sample_id").loc[samples.index]
    train, test = frame["split"] == "train", frame["split"] == "test"
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced", random_state=seed)
    )
    model.fit(samples[train.to_numpy()], frame["label"][train])
    return float(f1_score(frame["label"][test], model.predict(samples[test.to_numpy()]), average="macro"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohort", type=Path, required=True, help="a clone where `make repro` has run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--per-sample", type=int, default=100)
    parser.add_argument(
        "--settings", nargs="+", default=[f"{p}:{w:g}" for p, w in SETTINGS], help="pooling:λ pairs"
    )
    parser.add_argument("--resume", action="store_true", help="keep the runs already in the result file")
    args = parser.parse_args()
    settings = [(item.split(":")[0], float(item.split(":")[1])) for item in args.settings]
    import pandas as pd
    import yaml

    from oncofusion.config import parse_params
    from oncofusion.stages.dna_embed import dna_embed
    from oncofusion.stages.dna_finetune import dna_finetune

    root = args.cohort.resolve()
    raw = yaml.safe_load((Path(__file__).parents[1] / "params-variants.yaml").read_text())
    labels = pd.read_parquet(root / "data/variants/splits/labels.parquet")
    out = RESULTS / "dna_contrastive-cpu-2cores.json"
    rows = json.loads(out.read_text())["runs"] if args.resume and out.is_file() else []
    done = {(r["pooling"], r["contrastive_weight"], r["seed"]) for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        for pooling, weight in settings:
            for seed in args.seeds:
                if (pooling, weight, seed) in done:
                    continue
                raw["base"]["seed"] = seed
                raw["dna"]["finetune"] |= {"contrastive_pooling": pooling, "contrastive_weight": weight}
                raw["dna"]["embed"] |= {"max_per_sample": args.per_sample, "zero_shot": False}
                params = parse_params(raw, "params-variants.yaml")
                work = Path(tmp) / f"{pooling}-{weight}-{seed}"
                record = dna_finetune(
                    params, root / "data/variants/splits", work / "model", work / "m.json", root
                )
                dna_embed(params, root / "data/variants/splits", work / "model", work / "emb", root)
                samples = pd.read_parquet(work / "emb/samples.parquet")
                after = record["after_finetuning"]
                rows.append(
                    {
                        "pooling": pooling,
                        "contrastive_weight": weight,
                        "seed": seed,
                        "sbs96_probe": after["sbs96_probe"]["accuracy"],
                        "sbs96_probe_before": record["before_finetuning"]["sbs96_probe"]["accuracy"],
                        "mlm_accuracy": after["mlm_accuracy"],
                        "typing_f1_macro": round(typing_f1(samples, labels, seed), 4),
                    }
                )
                print(rows[-1], flush=True)
                write_report(report_of(rows, args), out)  # after every run: a stopped run keeps its part
    write_report(report_of(rows, args), out)


def report_of(rows: list[dict], args) -> dict:
    import torch

    summary = {}
    for pooling, weight in SETTINGS:
        chosen = [r for r in rows if r["pooling"] == pooling and r["contrastive_weight"] == weight]
        if not chosen:
            continue
        summary[f"{pooling}, λ = {weight:g}"] = {
            key: {
                "mean": round(float(np.mean([r[key] for r in chosen])), 4),
                "min": min(r[key] for r in chosen),
                "max": max(r[key] for r in chosen),
                "n_seeds": len(chosen),
            }
            for key in ("sbs96_probe", "mlm_accuracy", "typing_f1_macro")
        }
    return {
        "benchmark": "dna_contrastive",
        "machine": {"device": f"cpu-{torch.get_num_threads()}threads", "cpu": cpu_name()},
        "cohort": "the default simulated variant cohort (params-variants.yaml), its split",
        "seeds": sorted({r["seed"] for r in rows}),
        "variants_per_sample_for_typing": args.per_sample,
        "typing_model": "balanced logistic regression on the sample's mean [tumour, tumour − normal]",
        "runs": rows,
        "summary": summary,
    }


if __name__ == "__main__":
    main()
