"""A grid of sample images with their labels, for a person to look at the data."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cxrbench.io import atomic_write  # noqa: E402


def write_contact_sheet(source, out: Path, *, n: int = 24, size: int = 192, subset: str = "test",
                        columns: int = 6) -> Path:
    """Render the first ``n`` images of ``subset`` at ``size`` px with their findings as titles."""
    ids = list(getattr(source.split(), subset))[:n]
    table = source.table()
    load = source.loader(ids, size)
    rows = -(-len(ids) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.1 * columns, 2.35 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, image_id) in enumerate(zip(axes.flat, ids)):
        row = table.loc[image_id]
        ax.imshow(load(i), cmap="gray", vmin=0, vmax=255)
        title = str(row["finding_labels"]).replace("|", ", ")
        ax.set_title(f"{title}\n({'finding' if row['target'] else 'no finding'})", fontsize=7,
                     color="firebrick" if row["target"] else "black")
    fig.suptitle(f"{source.description().get('source')} · {subset} split · first {len(ids)} images", fontsize=9)
    fig.tight_layout()
    atomic_write(Path(out), lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return Path(out)
