r"""A study's results: one row per run, the tidy CSV rebuilt from the run folders, and summaries.

Each finished run folder holds ``result.json``, one row (:data:`COLUMNS`): the codebook (name,
construction, d, worst-case cosine :math:`s_{\max}`, minimum angle), the labelling and its
measures against the class similarity (Spearman correlation between class similarity and
prototype cosine, QAP objective, sibling pairs with negative or antipodal prototypes,
:mod:`spherecode.relabel.metrics`; for a learned labelling, of its final rounded permutation),
the head, the seed, the final and best validation top-1/top-5, and the time. ``OUT/results.csv``
is only ever rebuilt from those files (written to a temporary file, then renamed), so it can be
deleted, and the folders of shards run elsewhere can be copied in and merged.

:func:`summarise` groups rows by (head, codebook, labelling): mean, sample standard deviation and
95 % Student t interval over seeds (:mod:`.reporting` gives the paired effects).

Examples:
    >>> rows = [{"head": "prototype", "codebook": "a", "labelling": "identity", "s_max": 0.5, "seed": s,
    ...          "best_top1": v, "final_top1": v, "spearman": 0.1} for s, v in ((0, 0.6), (1, 0.8))]
    >>> g = summarise(rows)[0]
    >>> g["n"], round(g["best_top1_mean"], 3), round(g["best_top1_std"], 4)
    (2, 0.7, 0.1414)
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..codebook import Codebook
    from .config import StudyConfig
    from .plan import Plan, Run

RESULT = "result.json"
CSV_NAME = "results.csv"
#: The columns of results.csv, in order.
COLUMNS = ("study", "data", "run", "head", "codebook", "method", "dim", "s_max", "min_angle_deg",
           "labelling", "spearman", "qap_objective", "sibling_pairs", "negative_sibling_pairs",
           "antipodal_sibling_pairs", "mean_sibling_cosine", "seed", "epochs", "final_top1", "best_top1",
           "best_epoch", "final_top5", "best_top5", "train_time_s", "wall_time_s")
_LABEL_KEYS = ("spearman", "objective", "sibling_pairs", "negative_sibling_pairs", "antipodal_sibling_pairs",
               "mean_sibling_cosine")


@dataclass
class StudyResults:
    """What :func:`~spherecode.study.run_study` returns: the plan, this shard's statuses, all finished rows."""

    config: StudyConfig
    plan: Plan
    statuses: list[Any]
    rows: list[dict[str, Any]]

    @property
    def csv_path(self) -> Path:
        return self.config.out_dir / CSV_NAME


def result_row(config: StudyConfig, run: Run, history: list[dict[str, Any]], codebook: Codebook | None,
               similarity: np.ndarray | None, siblings: np.ndarray | None, wall_time_s: float) -> dict[str, Any]:
    """The results row of a finished run from its per-epoch ``history`` (metrics.jsonl records)."""
    from ..relabel.metrics import labelling_report

    evals = [r for r in history if "val_top1" in r]
    if not evals:
        raise ValueError("the run has no evaluated epoch (set run.eval_every >= 1 in the study's recipe)")
    best = max(evals, key=lambda r: r["val_top1"])
    row: dict[str, Any] = {k: None for k in COLUMNS}
    row.update(study=config.name, data=config.train.data.spec, run=run.name, head=run.head, seed=run.seed,
               labelling=run.labelling, epochs=history[-1]["epoch"], final_top1=evals[-1]["val_top1"],
               final_top5=evals[-1].get("val_top5"), best_top1=best["val_top1"], best_top5=max(r.get("val_top5", 0.0) for r in evals),
               best_epoch=best["epoch"], train_time_s=float(sum(r.get("epoch_time_s", 0.0) for r in history)),
               wall_time_s=float(wall_time_s))
    if codebook is not None and run.codebook is not None:
        row.update(codebook=run.codebook.name, method=codebook.method, dim=codebook.dim,
                   s_max=float(codebook.max_cosine), min_angle_deg=float(codebook.min_angle_deg))
        if similarity is not None:
            rep = labelling_report(codebook.prototypes, similarity, siblings).to_dict()
            row.update({("qap_objective" if k == "objective" else k): rep[k] for k in _LABEL_KEYS})
    return {k: _plain(v) for k, v in row.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def collect(out_dir: str | Path, plan: Plan | None = None) -> list[dict[str, Any]]:
    """The rows of every finished run under ``out_dir/runs`` (plan order first, then by name)."""
    root = Path(out_dir) / "runs"
    rows = []
    for path in sorted(root.glob(f"*/{RESULT}")):
        try:
            rows.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue  # a result being written right now by another shard; the next rebuild has it
    if plan is not None:
        order = {r.name: i for i, r in enumerate(plan.runs)}
        rows.sort(key=lambda r: (order.get(r.get("run"), len(order)), str(r.get("run"))))
    return rows


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write rows with the :data:`COLUMNS` header atomically (:func:`spherecode.files.atomic_write`)."""
    from ..files import atomic_write

    p = Path(path)
    with atomic_write(p, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: "" if r.get(k) is None else r.get(k) for k in COLUMNS} for r in rows])
    return p


#: Lock file that serialises rebuilds of results.csv by concurrent shards.
RESULTS_LOCK = ".results.lock"


@contextlib.contextmanager
def _rebuild_lock(out_dir: Path) -> Iterator[None]:
    """Wait for, then hold, an exclusive ``flock`` on ``out_dir/.results.lock`` (skipped without flock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(out_dir / RESULTS_LOCK, "a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except OSError:  # a file system without flock: rebuild unlocked
            pass
        yield  # closing the file releases the lock


def write_results(out_dir: str | Path, plan: Plan | None = None) -> list[dict[str, Any]]:
    """Rebuild ``out_dir/results.csv`` from the run folders; returns the rows.

    Shards that finish at the same time rebuild one after the other (a lock), so the file written
    last holds every result written before it.
    """
    out = Path(out_dir)
    with _rebuild_lock(out):
        rows = collect(out, plan)
        write_csv(rows, out / CSV_NAME)
    return rows


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a results CSV with numbers parsed (empty cells are ``None``)."""
    from ..errors import SpherecodeError

    p = Path(path)
    if not p.exists():
        raise SpherecodeError(f"Argument 'path': results file '{p}' does not exist.")
    if not p.is_file():  # a folder, a FIFO, a device
        raise SpherecodeError(f"Argument 'path': '{p}' is not a regular file (a study's results.csv).")
    try:
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = sorted({"head", "codebook", "labelling", "seed", "best_top1"} - set(reader.fieldnames or []))
            if missing:
                raise SpherecodeError(f"Argument 'path': '{p}' is not a study results CSV (no column "
                                      f"{', '.join(missing)}).")
            return [{k: _parse(v) for k, v in r.items()} for r in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SpherecodeError(f"Argument 'path': '{p}' is not a readable CSV ({type(exc).__name__}).") from None


def read_results(paths: str | Path | Sequence[str | Path]) -> list[dict[str, Any]]:
    """The rows of one results CSV, or of several pooled (a study and its follow-ups: more seeds or
    labellings on the same data and recipe), checked by :func:`check_pooled`."""
    rows = [row for p in ([paths] if isinstance(paths, (str, Path)) else paths) for row in read_csv(p)]
    check_pooled(rows)
    return rows


def check_pooled(rows: list[dict[str, Any]]) -> None:
    """Refuse rows that cannot be one study's: different data or epochs, or two results for one
    (head, codebook, labelling, seed)."""
    from ..errors import SpherecodeError

    for column in ("data", "epochs"):
        values = sorted({str(r.get(column)) for r in rows if r.get(column) is not None})
        if len(values) > 1:
            raise SpherecodeError(f"Argument 'rows': the results mix {column} {' and '.join(map(repr, values))}; "
                                  "runs of one dataset and recipe only can be pooled.")
    seen: set[tuple[Any, ...]] = set()
    for r in rows:
        key = (*cell_key(r), r.get("seed"))
        if key in seen:
            cell = "/".join(str(k) for k in key[:3] if k is not None)
            raise SpherecodeError(f"Argument 'rows': two results for {cell} with seed {key[3]} (rows of two studies "
                                  "mixed?).")
        seen.add(key)


def cell_key(r: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """The cell a run belongs to: (head, codebook, labelling); the linear head is one cell."""
    head = str(r.get("head"))
    if head == "linear":
        return head, None, None
    return head, r.get("codebook"), r.get("labelling")


def _parse(text: str | None) -> Any:
    if text is None or text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def summarise(rows: list[dict[str, Any]], metric: str = "best_top1", level: float = 0.95) -> list[dict[str, Any]]:
    r"""Per (head, codebook, labelling): seeds ``n``, ``s_max``, and for ``metric``, ``final_top1`` and Spearman the
    mean, sample standard deviation and Student t interval over seeds (``*_low``/``*_high``,
    :math:`\bar x \pm t_{(1+\gamma)/2,\,n-1}\, s/\sqrt n`; ``None`` with one seed)."""
    from .effects import t_interval

    groups: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r.get("head"), r.get("codebook"), r.get("labelling")), []).append(r)
    out = []
    for (head, codebook, labelling), rs in groups.items():
        entry: dict[str, Any] = {"head": head, "codebook": codebook or "-", "labelling": labelling or "-",
                                 "s_max": rs[0].get("s_max"), "dim": rs[0].get("dim"), "n": len(rs)}
        for key in dict.fromkeys((metric, "final_top1", "spearman")):
            vals = np.array([r[key] for r in rs if r.get(key) is not None], dtype=float)
            iv = t_interval(vals, level) if vals.size else None
            entry[f"{key}_mean"] = iv.mean if iv else None
            entry[f"{key}_std"] = (iv.sd if iv.sd is not None else 0.0) if iv else None
            entry[f"{key}_low"] = iv.low if iv else None
            entry[f"{key}_high"] = iv.high if iv else None
        out.append(entry)
    return out


def format_summary(rows: list[dict[str, Any]], metric: str = "best_top1", level: float = 0.95) -> str:
    """A plain-text table per codebook and labelling: mean [t interval over seeds] of ``metric`` and final top-1.

    One seed gives the mean alone. ``spherecode study report`` adds the paired effects.
    """
    def ci(e: dict[str, Any], key: str, scale: float = 100.0, digits: int = 1) -> str:
        m, lo, hi = e.get(f"{key}_mean"), e.get(f"{key}_low"), e.get(f"{key}_high")
        if m is None:
            return "-"
        if lo is None:
            return f"{scale * m:.{digits}f}"
        return f"{scale * m:.{digits}f} [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"

    pct = round(100 * level)
    lines = [f"mean [{pct} % Student t interval over seeds]",
             f"{'head':<10}{'codebook':<16}{'s_max':>8}  {'labelling':<11}{'n':>2}  {metric + ' %':>19}  "
             f"{'final_top1 %':>19}  {'spearman':>21}"]
    for e in summarise(rows, metric, level):
        smax = "-" if e["s_max"] is None else f"{e['s_max']:.3f}"
        lines.append(f"{e['head']:<10}{e['codebook']:<16}{smax:>8}  {e['labelling']:<11}{e['n']:>2}  "
                     f"{ci(e, metric):>19}  {ci(e, 'final_top1'):>19}  {ci(e, 'spearman', 1.0, 3):>21}")
    return "\n".join(lines)
