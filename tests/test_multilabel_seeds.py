"""The multi-label transfer table across seeds: mean ± sample sd per cell, by hand on made-up cells."""
import itertools

import numpy as np
import pandas as pd

from cxrbench.protocols.multilabel.seeds import transfer_seed_table, write_transfer_seeds
from cxrbench.protocols.multilabel.tables import KS, METRICS


def _cells(seeds, models, value):
    rows = []
    for seed, source, target in itertools.product(seeds, models, models):
        if seed == 2 and "nasnet" in (source, target):
            continue  # seed 2 did not train NASNet-L
        row = {"seed": seed, "pooling": "max", "evaluation": "untargeted", "reference": "truth", "loss": "bce",
               "source": source, "model": target, "epsilon": 1 / 255, "steps": 25, "n": 24}
        for m, k in itertools.product(METRICS, KS):
            row[f"{m}{k}"] = value(seed, source, target, m, k)
            row[f"clean_{m}{k}"] = 0.9 - 0.1 * seed
        rows.append(row)
    return pd.DataFrame(rows)


def test_every_cell_is_the_mean_and_sample_sd_of_the_seeds_that_have_it(tmp_path):
    models = ["irv2", "nasnet"]
    cells = _cells([0, 1, 2], models, lambda seed, s, t, m, k: 0.1 * seed + (0.5 if s == t else 0.0) + int(k) / 100)
    table, seeds = transfer_seed_table(cells, METRICS, KS)
    assert seeds == [0, 1, 2]
    irv2_label = table.columns[3]

    def cell(metric, k, row, column):
        return table[(table["metric"] == metric) & (table["k"] == k) & (table["crafted on"] == row)].iloc[0][column]

    values = [0.1 * s + 0.5 + 0.03 for s in (0, 1, 2)]   # white-box IRv2 at k = 3
    assert cell("k-robust", "3", "IR2", irv2_label) == f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"
    pair = [0.0 + 0.01, 0.1 + 0.01]                        # NASNet-L -> IRv2 at k = 1, seeds 0 and 1 only
    assert cell("k-robust", "1", "NL", irv2_label) == f"{np.mean(pair):.3f} ± {np.std(pair, ddof=1):.3f} (2 seeds)"
    assert cell("k-robust (Def. 1)", "1", "clean", irv2_label) == "0.800 ± 0.100"
    assert "clean" not in set(table[table["metric"] == "k-consistency"]["crafted on"])
    written = write_transfer_seeds(tmp_path, cells, METRICS, KS)
    assert {p.name for p in written.values()} >= {"transfer_k-max-seeds0-1-2-truth-bce.md",
                                                    "transfer_k-max-seeds0-1-2-truth-bce.csv"}
    assert "mean ± sample sd over seeds [0, 1, 2]" in (tmp_path / "transfer_k-max-seeds0-1-2-truth-bce.md").read_text()


def test_one_seed_writes_no_seed_table(tmp_path):
    cells = _cells([0], ["irv2", "nasnet"], lambda *_: 0.5)
    assert write_transfer_seeds(tmp_path, cells, METRICS, KS) == {}
