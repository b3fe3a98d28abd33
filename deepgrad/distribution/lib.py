"""The device mesh, layouts and distributions of ``keras.distribution`` (see the package doc)."""
from __future__ import annotations

import collections.abc
import contextlib
import re

import numpy as np

from .. import distributed
from ..distributed.launch import under_mpi

_DEVICE_TYPES = (None, "cpu", "CPU")


def _world_size() -> int:
    """The number of ranks: MPI is joined here when the process runs under ``mpiexec``."""
    if distributed.is_initialized():
        return distributed.size()
    if under_mpi():
        distributed.init()
        return distributed.size()
    return 1


def list_devices(device_type=None) -> list[str]:
    """``["cpu:0", ..., "cpu:<size - 1>"]``: one CPU device per rank."""
    if device_type not in _DEVICE_TYPES:
        raise ValueError(f"list_devices: deepgrad runs on CPUs; device_type must be 'cpu' or None, "
                         f"got {device_type!r}")
    return [f"cpu:{r}" for r in range(_world_size())]


def get_device_count(device_type=None) -> int:
    return len(list_devices(device_type))


def initialize(job_addresses=None, num_processes=None, process_id=None) -> None:
    """Join the MPI job (its launcher, ``mpiexec``, already knows the addresses); the
    arguments, when given, are checked against it."""
    distributed.init()
    if num_processes is not None and int(num_processes) != distributed.size():
        raise ValueError(f"initialize: num_processes={num_processes} but mpiexec started "
                         f"{distributed.size()} ranks")
    if process_id is not None and int(process_id) != distributed.rank():
        raise ValueError(f"initialize: process_id={process_id} but this process is rank {distributed.rank()}")


class DeviceMesh:
    """Devices arranged in an n-dimensional grid with named axes."""

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(f"DeviceMesh: shape and axis_names must be non-empty, got {shape!r} and {axis_names!r}")
        self.shape, self.axis_names = tuple(int(s) for s in shape), list(axis_names)
        if len(self.shape) != len(self.axis_names):
            raise ValueError(f"DeviceMesh: shape {self.shape} and axis_names {self.axis_names} differ in length")
        devices = list_devices() if devices is None else list(np.asarray(devices).reshape(-1))
        if int(np.prod(self.shape)) != len(devices):
            raise ValueError(f"DeviceMesh: shape {self.shape} needs {int(np.prod(self.shape))} devices, "
                             f"got {len(devices)}: {devices}")
        self.devices = np.asarray(devices, dtype=object).reshape(self.shape)

    def axis_size(self, name: str) -> int:
        return self.shape[self.axis_names.index(name)]

    def __repr__(self) -> str:
        return f"<DeviceMesh shape={self.shape}, axis_names={self.axis_names}>"


class TensorLayout:
    """How a tensor's axes map onto mesh axes (None: that axis is not sharded)."""

    def __init__(self, axes, device_mesh=None):
        self.axes = tuple(axes)
        self.device_mesh = device_mesh
        if device_mesh is not None:
            self._validate_axes()

    def _validate_axes(self) -> None:
        unknown = {a for a in self.axes if a is not None} - set(self.device_mesh.axis_names)
        if unknown:
            raise ValueError(f"TensorLayout: axes {sorted(unknown)} are not axes of the mesh "
                             f"{self.device_mesh.axis_names}")

    def shards(self, batch_dim_name=None) -> list[str]:
        """The mesh axes of more than one device this layout cuts a tensor along."""
        mesh = self.device_mesh
        return [a for a in self.axes if a is not None and a != batch_dim_name
                and (mesh is None or mesh.axis_size(a) > 1)]

    def __repr__(self) -> str:
        return f"<TensorLayout axes={self.axes}, device_mesh={self.device_mesh}>"


class LayoutMap(collections.abc.MutableMapping):
    """Regex keys (matched against whole variable paths) -> ``TensorLayout``."""

    def __init__(self, device_mesh):
        self.device_mesh = device_mesh
        self._layouts: dict = {}

    def __getitem__(self, key):
        if key in self._layouts:
            return self._layouts[key]
        matches = [k for k in self._layouts if re.fullmatch(k, key)]  # the whole path, as Keras
        if len(matches) > 1:
            raise ValueError(f"LayoutMap: path {key!r} matches several keys {matches}; make them exclusive")
        return self._layouts[matches[0]] if matches else None

    def __setitem__(self, key, layout):
        if key in self._layouts:
            raise ValueError(f"LayoutMap: {key!r} already has a layout {self._layouts[key]}")
        if isinstance(layout, tuple):
            layout = TensorLayout(layout)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"LayoutMap: a layout must be a TensorLayout or a tuple of axes, got {layout!r}")
        if layout.device_mesh is None:
            layout.device_mesh = self.device_mesh
            layout._validate_axes()
        self._layouts[key] = layout

    def __delitem__(self, key):
        del self._layouts[key]

    def __len__(self):
        return len(self._layouts)

    def __iter__(self):
        return iter(self._layouts)


class Distribution:
    """Base: a device mesh and the batch axis the data is split along."""

    def __init__(self, device_mesh, batch_dim_name=None, auto_shard_dataset=True):
        self.device_mesh = device_mesh
        self.batch_dim_name = batch_dim_name
        self.auto_shard_dataset = bool(auto_shard_dataset)

    @property
    def num_processes(self) -> int:
        return _world_size()

    @property
    def data_shard_id(self) -> int:
        return distributed.rank() if distributed.is_initialized() else 0

    @property
    def num_model_replicas(self) -> int:
        return self.device_mesh.axis_size(self.batch_dim_name) if self.batch_dim_name else 1

    def get_data_layout(self, data_shape):
        return TensorLayout([self.batch_dim_name] + [None] * (len(data_shape) - 1), self.device_mesh)

    def get_variable_layout(self, variable):
        return TensorLayout([None] * len(getattr(variable, "shape", ())), self.device_mesh)

    def get_tensor_layout(self, path):
        return None

    def distribute_dataset(self, dataset):
        """Data goes to ``fit`` whole; each rank takes its shard of every batch there."""
        return dataset

    @contextlib.contextmanager
    def scope(self):
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def _check_runnable(self) -> None:
        """Raise when this distribution cannot run on whole-model CPU ranks."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} device_mesh={self.device_mesh}, batch_dim_name={self.batch_dim_name!r}>"


class DataParallel(Distribution):
    """Every rank holds every weight and trains on its shard of each global batch."""

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is None:
            devices = list_devices() if devices is None else list(devices)
            if len(devices) != _world_size():
                raise ValueError(f"DataParallel: {len(devices)} devices given, but the job has {_world_size()} "
                                 f"ranks (one device each: {list_devices()}); start it with "
                                 f"mpiexec -n {len(devices)}")
            device_mesh = DeviceMesh((len(devices),), ("batch",), devices)
        elif len(device_mesh.shape) != 1:
            raise ValueError(f"DataParallel: the device mesh must be one-dimensional, got shape {device_mesh.shape}")
        super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)


class ModelParallel(Distribution):
    """Keras's weight sharding by ``layout_map``. Runs here when no layout cuts a weight across
    more than one device (then it is data parallelism along ``batch_dim_name``)."""

    def __init__(self, *, layout_map=None, batch_dim_name=None, auto_shard_dataset=True, **kwargs):
        if kwargs.get("device_mesh") is not None and layout_map is None:
            layout_map = LayoutMap(kwargs.pop("device_mesh"))
        if kwargs:
            raise TypeError(f"ModelParallel: unexpected keyword arguments {sorted(kwargs)}")
        if layout_map is None:
            raise ValueError("ModelParallel: layout_map is required")
        mesh = layout_map.device_mesh
        super().__init__(mesh, batch_dim_name or mesh.axis_names[0], auto_shard_dataset)
        self._layout_map = layout_map

    def get_variable_layout(self, variable):
        layout = self._layout_map[getattr(variable, "path", None) or getattr(variable, "name", "")]
        return layout if layout is not None else super().get_variable_layout(variable)

    def _check_runnable(self) -> None:
        for key, layout in self._layout_map.items():
            cut = layout.shards()
            if cut:
                raise ValueError(f"ModelParallel: the layout of {key!r} cuts weights along mesh axis {cut[0]!r} "
                                 f"of {self.device_mesh.axis_size(cut[0])} devices; deepgrad's devices are whole "
                                 "CPU processes that each hold every weight, so weights cannot be sharded. Use "
                                 "DataParallel, or a mesh whose model axis has size 1")
        if self.num_model_replicas != _world_size():
            raise ValueError(f"ModelParallel: the batch axis {self.batch_dim_name!r} has "
                             f"{self.num_model_replicas} devices but the job has {_world_size()} ranks")


def distribute_tensor(tensor, layout):
    """The tensor itself: every rank holds all of it (a layout that cuts it is refused)."""
    if isinstance(layout, TensorLayout) and layout.shards(None):
        raise ValueError(f"distribute_tensor: {layout} cuts the tensor across devices; every deepgrad rank holds "
                         "whole tensors")
    return tensor


_distribution: Distribution | None = None


def distribution() -> Distribution | None:
    """The distribution ``set_distribution`` installed, or None."""
    return _distribution


def set_distribution(value) -> None:
    """Make ``value`` (a ``DataParallel``, a runnable ``ModelParallel``, or None) the
    distribution ``fit`` follows: its data is sharded by rank and its gradients all-reduced."""
    global _distribution
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(f"set_distribution: expected a Distribution (e.g. DataParallel()) or None, got {value!r}")
    if value is not None:
        value._check_runnable()
        distributed.init()
    from .. import process_group
    group = process_group.current()
    if group is not None and hasattr(group, "shard_data"):
        group.shard_data = value is not None and value.auto_shard_dataset
        group.reduce_in_trainer = value is not None
    _distribution = value
