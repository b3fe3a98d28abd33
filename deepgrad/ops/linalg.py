"""``keras.ops.linalg``: the linear-algebra names, as Keras groups them (defined in ``linear_algebra``)."""
from .linear_algebra import (  # noqa: F401
    cholesky, cholesky_inverse, det, eig, eigh, inv, jvp, lstsq, lu_factor, matrix_rank, norm, pinv, qr,
    solve, solve_triangular, svd,
)
