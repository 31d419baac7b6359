"""Report figure of a pretrained encoder's embeddings: a t-SNE map of the objects, coloured by class.

Made from the encode rule's Zarr store alone (dimensions object, layer, feature): the last layer's mean-pooled
embedding of each object, standardised, reduced to at most 50 dimensions by PCA, then t-SNE (scikit-learn).
Objects beyond ``max_objects`` are left out at random (seeded), so large surveys stay quick.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from astroflow.errors import InputError
from astroflow.report import style


def embedding_map(embeddings_path: str | Path, out_png: str | Path, max_objects: int = 3000, seed: int = 0) -> None:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    ds = xr.open_zarr(embeddings_path)
    if "embedding" not in ds or ds["embedding"].dims != ("object", "layer", "feature"):
        raise InputError(embeddings_path, "is not an encode output (embedding over object, layer, feature)")
    n = ds.sizes["object"]
    chosen = np.sort(np.random.default_rng(seed).permutation(n)[:max_objects])
    values = ds["embedding"].isel(layer=-1).values[chosen].astype(np.float64)
    label = ds["label"].values[chosen]
    if len(values) < 5:
        raise InputError(embeddings_path, f"has {len(values)} objects: too few for a map")
    values = (values - values.mean(0)) / np.maximum(values.std(0), 1e-12)
    values = PCA(min(50, *values.shape), random_state=seed).fit_transform(values)
    xy = TSNE(2, perplexity=min(30.0, (len(values) - 1) / 3), init="pca", random_state=seed).fit_transform(values)
    names = list(ds.attrs["class_names"])
    fig, axes = style.figure(1, 1, panel=(5.0, 4.2))
    ax = axes[0, 0]
    unknown = label < 0
    if unknown.any():
        ax.scatter(*xy[unknown].T, s=8, color="0.75", label="unlabelled", lw=0)
    for code, colour in enumerate(style.class_colours(len(names))):
        mine = label == code
        if mine.any():
            ax.scatter(*xy[mine].T, s=8, color=colour, label=f"{names[code]} ({int(mine.sum())})", lw=0)
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.set_xticks([])  # t-SNE coordinates have no units or meaning beyond neighbourhoods
    ax.set_yticks([])
    fig.legend(loc="outside right center", markerscale=2)
    style.save(fig, out_png, f"{ds.attrs.get('model', '')} embeddings of {len(chosen)} of {n} objects (last layer)")


def period_probe(probe_table: str | Path, probe_metrics: str | Path, out_png: str | Path) -> None:
    """The probe rule's test objects: log period probed from the embedding's best layer against the period, and,
    when the period is a catalogue's or the simulator's, the periodogram's best period against it."""
    import json

    import pandas as pd

    table, metrics = pd.read_parquet(probe_table), json.loads(Path(probe_metrics).read_text())
    best = metrics["best_layer"]
    panels = [(f"probe {best}", f"probed from the embedding ({best})", metrics["layers"][best])]
    if "periodogram" in table:
        panels.append(("periodogram", "periodogram's best period", metrics["periodogram"]))
    fig, axes = style.figure(1, len(panels), panel=(3.6, 3.4))
    truth = table["log_period"].to_numpy()
    low, high = np.nanmin(truth) - 0.3, np.nanmax(truth) + 0.3
    colours = style.class_colours(int(table["label"].max()) + 1)
    for ax, (column, name, score) in zip(axes[0], panels):
        ax.scatter(truth, table[column], s=6, lw=0, c=[colours[k] for k in table["label"]])
        style.identity(ax, low, high)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_xlabel(f"log10 {metrics['target']} [d]")
        ax.set_ylabel(f"log10 period, {name}")
        r2 = "n/a" if score["r2"] is None else f"{score['r2']:.2f}"
        ax.set_title(f"R2 {r2}, within 10%: {score['within_10_percent']:.2f}", fontsize=8)
    style.save(fig, out_png, f"{metrics['model']}: what the embeddings know of the period "
                             f"({len(table)} test objects)")
