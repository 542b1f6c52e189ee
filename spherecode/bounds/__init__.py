"""Bounds on the optimum of (P): one function per bound, numbers in, numbers out."""

from .rankin import rankin_attained, rankin_bound, rankin_orthoplex, rankin_simplex

__all__ = ["rankin_attained", "rankin_bound", "rankin_orthoplex", "rankin_simplex"]
