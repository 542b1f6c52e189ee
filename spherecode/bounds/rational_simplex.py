r"""An exact simplex method over the rationals, for small linear programs whose data span many orders
of magnitude (Krawtchouk coefficients reach :math:`\binom{63}{31} \approx 9 \cdot 10^{17}` at n = 63,
where floating-point solvers return wrong optima).

Solves

.. math:: \max\; c^\top x \quad\text{s.t.}\quad A x \le b,\; x \ge 0, \qquad b \ge 0,

so the slack basis is feasible and no phase one is needed. The tableau is kept
in exact arithmetic: every entry is a :class:`fractions.Fraction`. Dantzig's rule picks the entering column and
Bland's rule takes over after a degenerate pivot, which rules out cycling.
The optimal dual vector is read from the slack columns and checked exactly (:math:`A^\top y \ge c`,
:math:`y \ge 0`, :math:`b^\top y = c^\top x`), so the returned value is a proof, not an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from collections.abc import Sequence


@dataclass(frozen=True)
class ExactLPResult:
    """An exact optimum: ``value = c.x = b.y`` with x primal and y dual feasible."""

    value: Fraction
    x: tuple[Fraction, ...]
    y: tuple[Fraction, ...]
    pivots: int


def maximize(c: Sequence[int | Fraction], a: Sequence[Sequence[int | Fraction]], b: Sequence[int | Fraction],
             max_pivots: int = 100_000) -> ExactLPResult:
    r"""Maximise :math:`c^\top x` subject to :math:`Ax \le b`, :math:`x \ge 0` exactly (needs b >= 0).

    Examples:
        >>> r = maximize([3, 2], [[1, 1], [1, 3]], [4, 6])
        >>> r.value, r.x, r.y
        (Fraction(12, 1), (Fraction(4, 1), Fraction(0, 1)), (Fraction(3, 1), Fraction(0, 1)))

    Raises:
        ValueError: if some b_i < 0 or the program is unbounded.
    """
    m, n = len(a), len(c)
    if any(Fraction(v) < 0 for v in b):
        raise ValueError("maximize needs b >= 0 (the slack basis must be feasible)")
    # Tableau rows: [A | I | b]; objective row z: [-c | 0 | 0].
    rows = [[Fraction(v) for v in a[i]] + [Fraction(int(i == j)) for j in range(m)] + [Fraction(b[i])] for i in range(m)]
    z = [-Fraction(v) for v in c] + [Fraction(0)] * m + [Fraction(0)]
    basis = [n + i for i in range(m)]
    width = n + m
    bland = False
    pivots = 0
    while True:
        if bland:
            enter = next((j for j in range(width) if z[j] < 0), None)
        else:
            best = min(range(width), key=lambda j: z[j])
            enter = best if z[best] < 0 else None
        if enter is None:
            break
        ratios = [(rows[i][-1] / rows[i][enter], basis[i], i) for i in range(m) if rows[i][enter] > 0]
        if not ratios:
            raise ValueError("the linear program is unbounded")
        _, _, leave = min(ratios)  # ties broken by the smallest basic index (Bland)
        bland = ratios and min(ratios)[0] == 0  # a degenerate step: switch to Bland's rule
        piv = rows[leave][enter]
        prow = [v / piv for v in rows[leave]]
        rows[leave] = prow
        for i in range(m):
            f = rows[i][enter]
            if i != leave and f:
                ri = rows[i]
                rows[i] = [ri[j] - f * prow[j] if prow[j] else ri[j] for j in range(width + 1)]
        f = z[enter]
        z = [z[j] - f * prow[j] if prow[j] else z[j] for j in range(width + 1)]
        basis[leave] = enter
        pivots += 1
        if pivots > max_pivots:  # pragma: no cover
            raise RuntimeError("exact simplex exceeded max_pivots")
    x = [Fraction(0)] * width
    for i, j in enumerate(basis):
        x[j] = rows[i][-1]
    y = tuple(z[n + i] for i in range(m))
    value = z[-1]
    _certify(c, a, b, x[:n], y, value)
    return ExactLPResult(value=value, x=tuple(x[:n]), y=y, pivots=pivots)


def _certify(c, a, b, x, y, value) -> None:
    """Check primal and dual feasibility and equal objectives, exactly (a guard against bugs)."""
    m, n = len(a), len(c)
    ok = (all(v >= 0 for v in x) and all(v >= 0 for v in y)
          and all(sum(Fraction(a[i][j]) * x[j] for j in range(n)) <= b[i] for i in range(m))
          and all(sum(Fraction(a[i][j]) * y[i] for i in range(m)) >= c[j] for j in range(n))
          and sum(Fraction(c[j]) * x[j] for j in range(n)) == value == sum(Fraction(b[i]) * y[i] for i in range(m)))
    if not ok:  # pragma: no cover - would be a bug in the pivoting
        raise RuntimeError("exact simplex produced an uncertified optimum")
