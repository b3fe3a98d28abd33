"""``CSVLogger``: one CSV row of logs per epoch."""
from __future__ import annotations

import csv
import os

import numpy as np

from .callback import Callback


def _cell(value):
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    if array.ndim > 0:
        return f"\"[{', '.join(map(str, array.ravel()))}]\""
    return value.item() if isinstance(value, np.generic) else value


class CSVLogger(Callback):
    """Columns are ``epoch`` and the sorted log names of the first epoch (plus their ``val_``
    twins when the first epoch had no validation); missing values are written as "NA".
    ``append=True`` continues an existing file without repeating its header."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not f.readline()
        else:
            self.append_header = True
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += ["val_" + k for k in self.keys]
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                         lineterminator="\n")
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None
