"""Floor 1: the process group that a data-parallel run installs and the trainer consults.

The trainer (floor 7) must not import the distributed package (floor 8), so the points where
a run over several processes differs from one process are methods of a small object defined
here. Nothing is installed by default (``current()`` is None) and ``fit`` is then the
single-process loop it always was; ``deepgrad.distributed.init()`` installs its MPI group,
whose methods answer for every rank:

- ``is_chief``: rank 0 alone prints progress and runs the callbacks that write files;
- ``keep_callback(cb)``: whether this rank runs a callback (the others skip file writers);
- ``batches(source)``: the batch source this rank iterates (its shard of each global batch
  under ``DataParallel``, else the source itself), counting the samples it trains on;
- ``begin_fit(model, start_epoch, steps)``: checks that every rank holds the same model and
  the same number of steps, then gives every rank rank 0's weights, optimiser state, random
  state and first epoch (after ``BackupAndRestore`` restored them there);
- ``start_gradients(variables, optimizer)``: before backward, None or ``(on_final, out)`` for
  ``grad``: ``out`` the arrays (one per variable, views of the all-reduce's flat buffers) that
  backward writes the gradients into, ``on_final`` a hook (or None) that starts each bucket's
  all-reduce as soon as its gradients are complete;
- ``reduce_gradients(grads, optimizer)``: the all-reduce between "gradients computed" and
  "gradients applied" (unless the optimiser already does it), finishing what the hook began;
- ``inference_batches(source)``, ``merge_metrics(metrics, source, steps)``,
  ``gather_outputs(outputs, source)``: ``evaluate`` and ``predict`` under ``DataParallel``
  run each rank on its rows, then sum the metrics' totals and counts, or gather the outputs;
- ``write_file(write)``: ``model.save`` and ``save_weights``: rank 0 alone writes;
- ``end_fit()``: ``fit`` is over;
- ``average_logs(logs)``: an epoch's metrics averaged over ranks, weighted by samples;
- ``any(flag)``: True on every rank when it is True on one (``stop_training``).
"""
from __future__ import annotations


class ProcessGroup:
    """One process: every method is the identity. A distributed group overrides them."""

    rank = 0
    size = 1

    def is_chief(self) -> bool:
        return self.rank == 0

    def keep_callback(self, callback) -> bool:
        return True

    def batches(self, source):
        return source

    def begin_fit(self, model, start_epoch: int, steps) -> int:
        return start_epoch

    def start_gradients(self, variables, optimizer):
        return None

    def reduce_gradients(self, grads: list, optimizer) -> list:
        return grads

    def inference_batches(self, source):
        return source

    def merge_metrics(self, metrics: list, source, steps: int) -> int:
        return steps

    def gather_outputs(self, outputs, source):
        return outputs

    def write_file(self, write) -> None:
        write()

    def end_fit(self) -> None:
        pass

    def average_logs(self, logs: dict) -> dict:
        return logs

    def any(self, flag: bool) -> bool:
        return bool(flag)


_current: ProcessGroup | None = None


def current() -> ProcessGroup | None:
    """The installed process group, or None in a single-process run."""
    return _current


def install(group: ProcessGroup | None) -> None:
    """Make ``group`` the one the trainer consults (None: back to a single process)."""
    global _current
    _current = group
