"""The attack run: white-box and black-box evaluation of one attack on one pooling variant.

The configured model and its peers (the other models of ``grid.models``), all with the configured
pooling, are trained (or reused); the attack is crafted once on each (stored under
``results/adversarial/``, resumable) and every stored set is evaluated on every model: crafted and
tested on the same network is white-box, crafted on one and tested on another is black-box
(Taghanaki et al. 2018, Tables 1 and 2, for their pair; a source x target transfer matrix for any
set). One summary record per (source, target) lands under ``results/records/attack/``.
"""
from __future__ import annotations

import time
from pathlib import Path

from cxrbench.attacks import get_attack_spec
from cxrbench.errors import DataError
from cxrbench.evaluation.adversarial import crafted_by, eval_path, evaluate_on, summarize
from cxrbench.kit.config import RunConfig
from cxrbench.kit.crafting import attack_parameters, attacked_view, deviations, ensure_crafted
from cxrbench.kit.pipeline import clean_predictions, evaluate_clean, prepare_variant, record_base, resolve_paths
from cxrbench.kit.subsets import digest, image_set
from cxrbench.records.schema import AttackRecord
from cxrbench.records.store import write_record
from cxrbench.runtime import resolve_runtime, seed_everything


def run_attack(cfg: RunConfig, peers: list[RunConfig], default_root: Path, log=print) -> list[dict]:
    """Craft ``cfg.attack`` on ``cfg``'s model and on each of ``peers``; evaluate every (source, target) pair.

    Returns the summary records, target by target (``cfg``'s model first), white-box first.
    """
    wall = time.perf_counter()
    spec = get_attack_spec(cfg.attack.name)
    params = attack_parameters(cfg, spec)
    paths = resolve_paths(cfg, default_root)
    paths.check_writable()
    seed_everything(cfg.seed, cfg.deterministic)
    runtime = resolve_runtime(cfg.device)
    configs = [cfg, *peers]
    variants = [prepare_variant(c, paths, runtime, log) for c in configs]
    for c, variant in zip(configs, variants):  # the tables' Clean column
        evaluate_clean(c, variant, paths, runtime, wall=wall, log=log)
    crafted = [ensure_crafted(cfg, spec, params, v, paths, runtime, log) for v in variants]
    weaker = deviations(cfg, spec, params)

    records = []
    for target in variants:
        clean = clean_predictions(target, paths, runtime, cfg.train.eval_batch_size)
        for made in sorted(crafted, key=lambda c: c.source is not target):  # white-box first
            setting = "white-box" if made.source is target else "black-box"
            name = f"{target.name}-{target.key}"
            evaluated = evaluate_on(target.model, made.directory, name, clean, device=runtime.device,
                                    batch_size=cfg.train.eval_batch_size)
            metrics = summarize(made.table, evaluated)
            images = image_set(attacked_view(target, cfg))
            if not metrics["n"] == len(made.table) == images["n"]:  # never a record from a part of the set
                raise DataError(f"{made.directory} yields {metrics['n']} evaluated of {len(made.table)} crafted images "
                                f"for a set of {images['n']}; rerun the attack: it recrafts damaged chunks")
            per_sample = eval_path(made.directory, name).relative_to(paths.results)
            record = AttackRecord(
                **record_base(cfg, target, runtime, metrics, wall=wall, per_sample=per_sample),
                setting=setting, source=made.source.model.identity.model, source_key=made.source.key,
                attack=spec.name, attack_id=spec.paper_id, attack_title=spec.title, family=spec.family,
                profile=cfg.attack.resolved_profile(cfg.train.name), attack_params=params, deviations=weaker,
                comparable_with_paper=not weaker, image_set=images,
                cell_key=digest({"attack": spec.name, "params": params, "images": images}),
                clean_accuracy=metrics["clean_accuracy"], clean_auc=metrics["clean_auc"],
                success_rate=metrics["success_rate"], crafted=str(made.directory.relative_to(paths.results)),
                crafted_reused=made.reused, crafted_by=crafted_by(made.directory),
                crafting_seconds=float(made.table["seconds"].sum()))
            file = f"{setting}-{record.model}-{record.pooling}-{spec.name}-{digest({'c': made.key, 't': target.key})}"
            records.append(write_record(paths.records / "attack" / f"{file}.json", record, paths.root))
    return records


def format_summary(records: list[dict]) -> str:
    """The white-box and black-box rows of the configured model, as printed by ``scripts/run.py``."""
    head = records[0]
    lines = [f"attack {head['attack']} ({head['attack_id']} {head['attack_title']}, {head['profile']} profile) "
             f"on {head['model']}/{head['pooling']}, n={head['images']} test images "
             f"({head['image_set']['n_positive']} with a finding):",
             f"{'setting':<10} {'crafted on':<10} {'accuracy':>8} {'AUC':>6} {'clean acc':>9} {'clean AUC':>9} "
             f"{'success':>8} {'median eps':>10}"]
    for r in records:
        if r["model"] != head["model"]:
            continue
        lines.append(f"{r['setting']:<10} {r['source']:<10} {r['accuracy']:>8.3f} {r['auc']:>6.3f} "
                     f"{r['clean_accuracy']:>9.3f} {r['clean_auc']:>9.3f} {r['success_rate']:>8.3f} "
                     f"{r['metrics']['median_linf']:>10.4f}")
    lines.append("(accuracy and AUC over the attacked test images, clean acc/AUC over the same images unattacked; "
                 "success over those the target classified correctly; median eps: median L-inf size of the "
                 "perturbations that fooled)")
    if head["deviations"]:
        lines.append("not comparable with the paper, a weaker attack: " + ", ".join(
            f"{k} {v['used']} instead of {v['paper']}" for k, v in head["deviations"].items()))
    return "\n".join(lines)
