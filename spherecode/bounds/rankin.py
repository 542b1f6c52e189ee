r"""Rankin's bounds (1955) on the worst-case cosine of N points on :math:`S^{d-1}`.

* Simplex bound: :math:`s_{\max} \ge -1/(N-1)` for any N >= 2 points, attained iff d >= N - 1.
* Orthoplex bound: :math:`s_{\max} \ge 0` when N >= d + 2, attained for N <= 2d.
"""

from __future__ import annotations

from ..errors import check_int


def rankin_simplex(n: int) -> float:
    r"""Rankin's simplex bound :math:`-1/(N-1)`, a lower bound on :math:`s_{\max}` for N points.

    >>> rankin_simplex(101)
    -0.01
    """
    n = check_int("n", n, minimum=2)
    return -1.0 / (n - 1)


def rankin_orthoplex(n: int, dim: int) -> float | None:
    """Rankin's orthoplex bound: 0 when N >= d + 2, else ``None`` (it does not apply)."""
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    return 0.0 if n >= dim + 2 else None


def rankin_bound(n: int, dim: int) -> float:
    """The stronger of Rankin's two lower bounds on s_max for N points in d dimensions."""
    orth = rankin_orthoplex(n, dim)
    return rankin_simplex(n) if orth is None else orth


def rankin_attained(n: int, dim: int) -> bool:
    """Whether :func:`rankin_bound` is attained (d >= N - 1, or N <= 2d)."""
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    return dim >= n - 1 or n <= 2 * dim
