"""Figures for the flow's cards, the benchmark and the docs (matplotlib, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def reliability_diagram(
    reliability: dict[str, list[float]],
    ece: float | None = None,
    title: str = "Reliability on test pairs",
    event: str = "same person",
    unit: str = "pairs",
) -> Figure:
    """Observed frequency of ``event`` against the calibrated probability, per bin (from metrics.reliability_curve),
    and how many ``unit`` fall in each bin."""
    n_bins = 15
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.5, 6), height_ratios=(3, 1), sharex=True)
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    top.plot(reliability["confidence"], reliability["frequency"], "o-", label="calibrated model")
    top.set_ylabel(f"observed frequency: {event}")
    top.set_title(title + (f" (ECE {ece:.3f})" if ece is not None else ""), fontsize=10)
    top.legend(loc="upper left")
    # counts drawn at their bin's centre (the curve's points sit at the bin's mean probability)
    centres = [(min(int(c * n_bins), n_bins - 1) + 0.5) / n_bins for c in reliability["confidence"]]
    bottom.bar(centres, reliability["count"], width=0.9 / n_bins, color="tab:blue", alpha=0.6)
    bottom.set_xlabel(f"calibrated P({event})")
    bottom.set_ylabel(unit)
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    return fig


def training_curves(history: list[dict]) -> Figure:
    steps = [h["step"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    left.plot(steps, [h["loss"] for h in history], "o-")
    left.set_xlabel("step")
    left.set_ylabel("training loss (mean since last eval)")
    right.plot(steps, [h["dev_auc"] for h in history], "o-", color="tab:green")
    right.set_xlabel("step")
    right.set_ylabel("dev ROC AUC")
    fig.tight_layout()
    return fig


def det_plot(open_set: dict, title: str = "Open-set identification on test people") -> Figure:
    """FNIR against FPIR (log axes) for each rule and gallery of :func:`facerec.train.openset.evaluate_open_set`."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    styles = {"pair": "--", "open_set": "-"}
    labels = {"pair": "best face + pair calibrator (before)", "open_set": "people + open-set calibrator"}
    colours = {"1_photos": "tab:blue", "2_photos": "tab:orange", "3_photos": "tab:green"}
    for gallery, results in open_set.items():
        for rule in ("pair", "open_set"):
            if rule not in results:
                continue
            det = results[rule]["det"]
            ax.plot(det["fpir"], det["fnir"], styles[rule], color=colours.get(gallery, "grey"),
                    label=f"{labels[rule]}, {gallery.replace('_', ' ')}")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FPIR (share of strangers named)")
    ax.set_ylabel("FNIR (share of enrolled people not named correctly)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig
