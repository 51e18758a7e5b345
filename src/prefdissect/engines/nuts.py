"""The reference engine: the paper's model sampled by NUTS in NumPyro.

Exactly the published setup by default: independent Laplace(0, b) priors, no
intercept, Bernoulli-logit likelihood, NUTS with 4 chains, 500 warm-up and 2,000
kept draws per chain; model-term columns (where a problem has them) get their
Gaussian priors. Each problem is sampled with its own random key. It is the
ground truth the fast engine is validated against, not the default: it costs
seconds per fit where EP costs milliseconds. Needs the optional extra:
``pip install 'prefdissect[reference]'``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import UsageError
from ..registry import register
from . import Posterior, Problem

CHAINS, WARMUP, DRAWS = 4, 500, 2000


def _numpyro():
    try:
        import jax
        import numpyro
    except ImportError:
        raise UsageError("the 'nuts' engine needs NumPyro and JAX; install them with "
                         "pip install 'prefdissect[reference]'") from None
    jax.config.update("jax_enable_x64", True)
    return jax, numpyro


def _make_model(term_sd: np.ndarray):
    """Build the paper's model for one problem's columns: Laplace weights, Gaussian terms."""
    gaussian = ~np.isnan(term_sd)
    laplace_idx = np.flatnonzero(~gaussian)
    term_idx = np.flatnonzero(gaussian)
    sds = term_sd[term_idx]

    def model(X, y, weight, scale):
        import jax.numpy as jnp
        import numpyro
        import numpyro.distributions as dist

        w = jnp.zeros(X.shape[1])
        if len(laplace_idx):
            w = w.at[laplace_idx].set(numpyro.sample(
                "w_laplace", dist.Laplace(jnp.zeros(len(laplace_idx)), scale)))
        if len(term_idx):
            w = w.at[term_idx].set(numpyro.sample("w_term", dist.Normal(0.0, jnp.asarray(sds))))
        numpyro.deterministic("w", w)
        logits = X @ w
        # sum_i weight_i * [y_i log sigmoid(l_i) + (1 - y_i) log sigmoid(-l_i)]; with unit
        # weights and 0/1 labels this is the Bernoulli-logit likelihood itself.
        numpyro.factor("likelihood",
                       jnp.sum(weight * (y * logits - jnp.logaddexp(0.0, logits))))

    return model


def sample(problem: Problem, prior_scale: float = 0.1, *, chains: int = CHAINS,
           warmup: int = WARMUP, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """Return posterior draws of the weights, shape (chains, draws, d)."""
    jax, numpyro = _numpyro()
    from numpyro.infer import MCMC, NUTS

    d = problem.X.shape[1]
    weight = np.ones(len(problem.y)) if problem.weight is None else problem.weight
    term_sd = (np.full(d, np.nan) if problem.gaussian_sd is None
               else np.asarray(problem.gaussian_sd, float))
    mcmc = MCMC(NUTS(_make_model(term_sd)), num_warmup=warmup, num_samples=draws,
                num_chains=chains, chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), np.asarray(problem.X, float),
             np.asarray(problem.y, float), np.asarray(weight, float), prior_scale)
    return np.asarray(mcmc.get_samples(group_by_chain=True)["w"])


def problem_key(problem: Problem, seed: int = 0) -> int:
    """Return a random-key seed made of ``seed`` and a digest of the problem's data."""
    digest = hashlib.sha256(str(seed).encode())
    for part in (problem.X, problem.y, problem.weight, problem.gaussian_sd):
        if part is not None:
            array = np.ascontiguousarray(part, dtype=float)
            digest.update(str(array.shape).encode())
            digest.update(array.tobytes())
    return int.from_bytes(digest.digest()[:4], "little") & 0x7FFFFFFF


@register("engine", "nuts", "NumPyro NUTS, 4 chains x (500 warm-up + 2,000 draws): the "
          "paper's reference sampler (slow; needs the [reference] extra)")
def fit_nuts(problems: list[Problem], prior_scale: float = 0.1, interval: float = 0.95, *,
             chains: int = CHAINS, warmup: int = WARMUP, draws: int = DRAWS,
             seed: int = 0) -> list[Posterior]:
    """Sample each problem's posterior; summaries follow arviz (mean, sd, ess, r_hat).

    Each problem's random key comes from ``seed`` and the problem's own data (see
    :func:`problem_key`): different problems never share their random numbers, and a
    problem's draws do not depend on which other problems are fitted beside it.
    """
    _, numpyro = _numpyro()
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    alpha = (1 - interval) / 2
    out = []
    for problem in problems:
        chain_draws = sample(problem, prior_scale, chains=chains, warmup=warmup, draws=draws,
                             seed=problem_key(problem, seed))
        flat = chain_draws.reshape(-1, chain_draws.shape[-1])
        ess = effective_sample_size(chain_draws)
        r_hat = split_gelman_rubin(chain_draws) if chains > 1 else np.full(flat.shape[1],
                                                                           np.nan)
        worst = float(np.nanmax(r_hat)) if chains > 1 else float("nan")
        warning = None
        if chains > 1 and worst > 1.01:
            warning = f"r_hat up to {worst:.3f} (> 1.01): run longer chains"
        out.append(Posterior(
            mean=flat.mean(axis=0), sd=flat.std(axis=0, ddof=1),
            lower=np.quantile(flat, alpha, axis=0), upper=np.quantile(flat, 1 - alpha, axis=0),
            diagnostics={"engine": "nuts", "converged": warning is None, "iterations": draws,
                         "max_change": 0.0, "warning": warning, "ess": ess.tolist(),
                         "r_hat": np.asarray(r_hat).tolist(), "min_ess": float(np.min(ess))},
            cov=np.atleast_2d(np.cov(flat, rowvar=False)),
        ))
    return out
