"""``DistributedOptimizer``: an optimiser whose updates use the gradients averaged over ranks."""
from __future__ import annotations

from .collectives import GradientReducer
from . import mpi as world
from .start import init


def DistributedOptimizer(optimizer, name=None, compression=None, sparse_as_dense=False,
                         backward_passes_per_step=1, average_aggregated_gradients=False,
                         bucket_bytes=None, **kwargs):
    """Wrap ``optimizer`` (Horovod's name and arguments) so that every ``apply`` first
    averages the gradients over all ranks, in one fused all-reduce per dtype (buckets for a
    large model), then updates as the optimiser itself would.

    The result is an instance of a subclass of the optimiser's own class, made from its
    config, so it saves, reports and behaves as that optimiser (``isinstance`` holds).
    ``compression`` and ``sparse_as_dense`` are accepted for Horovod's programs; gradients
    travel uncompressed. ``backward_passes_per_step > 1`` is Keras's
    ``gradient_accumulation_steps`` on the wrapped optimiser.

    Under ``deepgrad.distribution.set_distribution(DataParallel())`` the wrapped optimiser is
    the one reduction of the step (``fit`` does not reduce again), weighted as DataParallel
    weighs: rank r's gradient times (its shard's samples) / (the global batch's), so uneven
    shards still give the one-process step on the whole global batch (1 / size would not).
    """
    if getattr(optimizer, "reduces_gradients", False):
        return optimizer
    comm = world.comm() if world.is_initialized() else init()
    base = type(optimizer)
    cls = type(base.__name__, (base,), {
        "reduces_gradients": True,
        "apply": _apply,
        "__module__": base.__module__,
        "__doc__": f"{base.__name__}, its gradients averaged over the ranks before each update.",
    })
    config = optimizer.get_config()
    if name is not None:
        config["name"] = name
    if backward_passes_per_step and backward_passes_per_step > 1:
        config["gradient_accumulation_steps"] = int(backward_passes_per_step)
    wrapped = cls.from_config(config)
    if getattr(optimizer, "built", False) and optimizer._built_variables():  # keep the state it already has
        wrapped.build(optimizer._built_variables())
        wrapped.set_state(optimizer.get_state())
    wrapped._reducer = GradientReducer(comm, **({} if bucket_bytes is None else {"bucket_bytes": bucket_bytes}))
    return wrapped


def _apply(self, grads, variables=None):
    """Average the gradients over the ranks, then the wrapped class's own update."""
    grads = list(grads)
    if self._reducer.comm.Get_size() > 1:
        grads = self._reducer.reduce(grads)
    return super(type(self), self).apply(grads, variables)
