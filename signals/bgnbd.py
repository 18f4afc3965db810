"""BG/NBD ("buy till you die"): how likely a customer who acts now and then is still active.

Fader, Hardie & Lee, "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2), 2005. While active, a customer acts
as a Poisson process whose rate varies across customers as Gamma(r, alpha); after
each act they may leave for good with a probability that varies as Beta(a, b).
From each customer's repeat count ``x``, the age of their last act ``t_x`` and
how long they have been watched ``T`` (all in days here), the model gives the
probability they are still active and how much they will do next.

Fitted by maximum likelihood with scipy (the ``lifetimes`` package that used to
do this is unmaintained since 2020 and pins old pandas/scipy APIs; ``pymc-marketing``
fits it too, but brings PyMC and PyTensor for a four-parameter model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

Array = npt.NDArray[np.float64]
MIN_CUSTOMERS = 30  # fewer than this: the four parameters are not identified


@dataclass(frozen=True, slots=True)
class BgNbd:
    """Fitted parameters; ``alpha`` is in the time unit of the data it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, x: float, t_x: float, t: float) -> float:
        """Probability that a customer with x repeats, the last at t_x, is active at age t."""
        if x <= 0:
            return 1.0
        log_ratio = (self.r + x) * math.log((self.alpha + t) / (self.alpha + t_x))
        odds = self.a / (self.b + x - 1) * math.exp(min(log_ratio, 700.0))
        return float(1.0 / (1.0 + odds))

    def expected(self, horizon: float, x: float, t_x: float, t: float) -> float:
        """Expected acts in the next ``horizon`` for that customer (the paper's eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = horizon / (alpha + t + horizon)
        hyp = float(special.hyp2f1(r + x, b + x, a + b + x - 1, z))
        if not math.isfinite(hyp) or a == 1:  # out of the series' reach: rate while alive
            rate = (r + x) / (alpha + t)
            return self.p_alive(x, t_x, t) * rate * horizon
        head = (a + b + x - 1) / (a - 1)
        tail = 1 - ((alpha + t) / (alpha + t + horizon)) ** (r + x) * hyp
        return float(max(0.0, head * tail * self.p_alive(x, t_x, t)))

    def as_mapping(self) -> dict[str, float]:
        """The parameters as stored in ``[scoring.bgnbd]``."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def log_likelihood(params: Array, x: Array, t_x: Array, t: Array) -> Array:
    """Each customer's log-likelihood under (r, alpha, a, b) (the paper's eq. 6)."""
    r, alpha, a, b = params
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    beta = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    gone = -(r + x) * np.log(alpha + t)
    repeat = x > 0
    left = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return np.asarray(head + beta + np.logaddexp(gone, left), dtype=np.float64)


def fit(x: Array, t_x: Array, t: Array) -> BgNbd | None:
    """Maximum-likelihood parameters, or None with too few customers or no repeat at all."""
    x, t_x, t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, t))
    if len(x) < MIN_CUSTOMERS or not np.any(x > 0) or float(t.max()) <= 0:
        return None
    scale = 10.0 / float(t.max())  # fit in a unit where ages are ~10: a well-scaled alpha
    xs, txs, ts = x, t_x * scale, t * scale

    def loss(log_params: Array) -> float:
        value = -float(np.sum(log_likelihood(np.exp(log_params), xs, txs, ts)))
        return value if math.isfinite(value) else 1e300

    best = optimize.minimize(
        loss, np.zeros(4), method="L-BFGS-B", bounds=[(-9.0, 9.0)] * 4, options={"maxiter": 500}
    )
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    return BgNbd(r, alpha / scale, a, b)
