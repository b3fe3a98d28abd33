"""Hypothesis profiles of the robustness suite.

``deepgrad-robust`` (the default) runs a few thousand cases in all, in well under a minute;
``DEEPGRAD_HYPOTHESIS=long`` selects ``deepgrad-robust-long``, four times as many per property
(>= 10,000 in all). The profiles are applied per test through ``robust_support.cases`` and
leave the rest of the suite's profile alone.
"""
import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, derandomize=True, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.data_too_large])
settings.register_profile("deepgrad-robust", max_examples=100, **_COMMON)
settings.register_profile("deepgrad-robust-long", max_examples=400, derandomize=False, **{
    k: v for k, v in _COMMON.items() if k != "derandomize"})

PROFILE = "deepgrad-robust-long" if os.environ.get("DEEPGRAD_HYPOTHESIS", "") == "long" else "deepgrad-robust"
