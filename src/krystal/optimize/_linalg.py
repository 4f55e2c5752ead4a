"""The little dense linear algebra the optimisers need, in plain Python.

Matrices are lists of rows. At the sizes black-box optimisation meets (tens of
dimensions) a cyclic Jacobi eigensolver and a Cholesky solve cost milliseconds, which keeps
:mod:`krystal.optimize` free of dependencies.
"""

from __future__ import annotations

import math
from operator import mul

Matrix = list[list[float]]


def identity(n: int) -> Matrix:
    """The ``n`` x ``n`` identity matrix.

    >>> identity(2)
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]


def symmetric_eigen(matrix: Matrix, sweeps: int = 50) -> tuple[list[float], Matrix]:
    """Eigenvalues and eigenvectors (as columns of the second result) of a symmetric matrix.

    Cyclic Jacobi rotations (Golub & Van Loan, section 8.5): slower than QR for large
    matrices, but short, exact to rounding for symmetric input, and fast at n <= 50.

    >>> values, vectors = symmetric_eigen([[2.0, 1.0], [1.0, 2.0]])
    >>> sorted(round(v, 9) for v in values)
    [1.0, 3.0]
    """
    n = len(matrix)
    a = [list(row) for row in matrix]
    vt = identity(n)  # eigenvectors as rows while rotating
    for _ in range(sweeps):
        off = sum(a[i][j] * a[i][j] for i in range(n) for j in range(i + 1, n))
        scale = sum(a[i][i] * a[i][i] for i in range(n))
        if off <= 1e-30 * scale or off == 0.0:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                ap, aq = a[p], a[q]
                apq = ap[q]
                if apq == 0.0:
                    continue
                app, aqq = ap[p], aq[q]
                theta = (aqq - app) / (2.0 * apq)
                t = (1.0 if theta >= 0.0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1.0))
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                # A <- J^T A J touches rows and columns p and q; A stays symmetric, so
                # rotate the two rows and copy them into the two columns.
                new_p = [c * x - s * y for x, y in zip(ap, aq)]
                new_q = [s * x + c * y for x, y in zip(ap, aq)]
                new_p[p] = c * c * app - 2.0 * s * c * apq + s * s * aqq
                new_q[q] = s * s * app + 2.0 * s * c * apq + c * c * aqq
                new_p[q] = new_q[p] = 0.0
                a[p], a[q] = new_p, new_q
                for k in range(n):
                    row = a[k]
                    row[p], row[q] = new_p[k], new_q[k]
                vp, vq = vt[p], vt[q]
                vt[p] = [c * x - s * y for x, y in zip(vp, vq)]
                vt[q] = [s * x + c * y for x, y in zip(vp, vq)]
    return [a[i][i] for i in range(n)], [list(column) for column in zip(*vt)]


def solve_spd(matrix: Matrix, rhs: list[float], ridge: float = 0.0) -> list[float] | None:
    """Solve ``(matrix + ridge I) x = rhs`` for a symmetric positive definite matrix.

    Returns ``None`` when the matrix is not numerically positive definite.

    >>> [round(v, 9) for v in solve_spd([[4.0, 2.0], [2.0, 3.0]], [2.0, 1.0])]
    [0.5, 0.0]
    """
    n = len(matrix)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        row = low[i]
        for j in range(i + 1):
            other = low[j]
            total = matrix[i][j] + (ridge if i == j else 0.0) - sum(map(mul, row[:j], other[:j]))
            if i == j:
                if total <= 0.0:
                    return None
                row[i] = math.sqrt(total)
            else:
                row[j] = total / other[j]
    y = [0.0] * n
    for i in range(n):
        total = rhs[i]
        for k in range(i):
            total -= low[i][k] * y[k]
        y[i] = total / low[i][i]
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        total = y[i]
        for k in range(i + 1, n):
            total -= low[k][i] * x[k]
        x[i] = total / low[i][i]
    return x
