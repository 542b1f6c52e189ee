"""The separation report of a codebook: its measures beside the bounds on the optimum."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .bounds import rankin_attained, rankin_bound
from .codebook import Codebook
from .separation import cosine_to_degrees


@dataclass(frozen=True)
class SeparationReport:
    """Everything ``spherecode analyze`` prints, as plain numbers.

    ``gap_to_rankin`` is ``max_cosine - rankin_bound``: zero means provably optimal.
    """

    n: int
    dim: int
    method: str
    max_cosine: float
    min_angle_deg: float
    mean_max_cosine: float
    antipodal_pairs: int
    permuted: bool
    rankin_bound: float
    rankin_attained: bool
    gap_to_rankin: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        """A human-readable multi-line report."""
        rows = [
            ("codebook", f"N = {self.n} prototypes in d = {self.dim} (method: {self.method}{', relabelled' if self.permuted else ''})"),
            ("worst-case cosine", f"{self.max_cosine:.6f}  (minimum angle {self.min_angle_deg:.4f} deg)"),
            ("mean nearest cosine", f"{self.mean_max_cosine:.6f}"),
            ("antipodal pairs", f"{self.antipodal_pairs}"),
            ("Rankin bound", f"{self.rankin_bound:.6f}  ({cosine_to_degrees(self.rankin_bound):.4f} deg; "
                             f"{'attainable' if self.rankin_attained else 'not attainable'} at this (N, d))"),
            ("gap to Rankin", f"{self.gap_to_rankin:.3g}" + ("  (optimal)" if abs(self.gap_to_rankin) < 1e-9 else "")),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def analyze(codebook: Codebook) -> SeparationReport:
    """Measure a codebook's separation and compare it with the bounds for its (N, d)."""
    s = codebook.max_cosine
    bound = rankin_bound(codebook.n, codebook.dim)
    return SeparationReport(
        n=codebook.n,
        dim=codebook.dim,
        method=codebook.method,
        max_cosine=s,
        min_angle_deg=codebook.min_angle_deg,
        mean_max_cosine=codebook.mean_max_cosine,
        antipodal_pairs=codebook.antipodal_pairs,
        permuted=codebook.permutation is not None,
        rankin_bound=bound,
        rankin_attained=rankin_attained(codebook.n, codebook.dim),
        gap_to_rankin=s - bound,
    )
