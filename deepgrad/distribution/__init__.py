"""Keras 3's ``keras.distribution`` names, on deepgrad's MPI ranks.

A device is one rank of the MPI job, named ``"cpu:<rank>"``: ``list_devices()`` gives one
per rank (``["cpu:0"]`` in a process started without ``mpiexec``). ``DataParallel`` is the
distribution that runs: every rank keeps every weight, ``fit`` takes the whole data, each
rank trains on its shard of every global batch (``batch_size`` is the global batch, as in
Keras) and the gradients are all-reduced at the trainer's one point between "computed" and
"applied" (rules in ``deepgrad.distributed.group``). ``evaluate`` and ``predict`` are then
collective, as in Keras: every rank calls them, runs its share of the rows, and gets the
one-process result (metrics summed over ranks; every row of the prediction, in order). ``ModelParallel`` and layouts that
shard a weight across devices need each device to hold part of a weight, which whole CPU
processes that each run the full model do not do here: they are refused with that reason,
while layouts that shard nothing (and the batch dimension) are accepted.
"""
from .lib import (DataParallel, DeviceMesh, Distribution, LayoutMap, ModelParallel, TensorLayout, distribute_tensor,
                  distribution, get_device_count, initialize, list_devices, set_distribution)

__all__ = ["DataParallel", "DeviceMesh", "Distribution", "LayoutMap", "ModelParallel", "TensorLayout",
           "distribute_tensor", "distribution", "get_device_count", "initialize", "list_devices", "set_distribution"]
