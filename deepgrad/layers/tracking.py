"""Keras's attribute tracking of a layer's sub-layers and variables held in lists and dicts.

A layer's public attribute that is a list or dict is kept as a ``TrackedList``/``TrackedDict``:
a layer or variable in it, at any depth and among other values (``[keras.Input(...), Dense(...)]``),
becomes one of the owner's sub-layers or weights when it is put there, whether at assignment,
by ``append``/``extend``/``+=``/``insert``/item assignment later, or through ``update``/``setdefault``
of a dict. Each is tracked once however often it is assigned again (``self.blocks += [...]``
assigns the same list back). Removing one from the list stops tracking it, as in Keras.
"""


class TrackedList(list):
    """A list whose added layers and variables are tracked by ``owner`` (a Layer)."""

    def __init__(self, values=(), owner=None):
        super().__init__(values)
        self._owner = owner

    def _track(self, value):
        return self._owner._track_attribute(value) if self._owner is not None else value

    def append(self, value):
        super().append(self._track(value))

    def insert(self, index, value):
        super().insert(index, self._track(value))

    def extend(self, values):
        super().extend([self._track(v) for v in values])

    def __iadd__(self, values):
        self.extend(values)
        return self

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            value = [self._track(v) for v in value]
        else:
            value = self._track(value)
        super().__setitem__(index, value)

    def remove(self, value):
        super().remove(value)
        self._untrack(value)

    def pop(self, index=-1):
        value = super().pop(index)
        self._untrack(value)
        return value

    def clear(self):
        values = list(self)
        super().clear()
        for v in values:
            self._untrack(v)

    def __delitem__(self, index):
        values = self[index] if isinstance(index, slice) else [self[index]]
        super().__delitem__(index)
        for v in values:
            self._untrack(v)

    def _untrack(self, value):
        if self._owner is not None:
            self._owner._untrack_attribute(value)

    def __reduce_ex__(self, protocol):
        # copies and pickles are plain lists: the copied owner's tracked state is copied with it
        return list, (list(self),)


class TrackedDict(dict):
    """A dict whose added layers and variables are tracked by ``owner`` (a Layer)."""

    def __init__(self, values=(), owner=None):
        super().__init__(values)
        self._owner = owner

    def _track(self, value):
        return self._owner._track_attribute(value) if self._owner is not None else value

    def __setitem__(self, key, value):
        super().__setitem__(key, self._track(value))

    def update(self, *args, **kwargs):
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key, *default):
        present = key in self
        value = super().pop(key, *default)
        if present and self._owner is not None:
            self._owner._untrack_attribute(value)
        return value

    def __delitem__(self, key):
        value = self[key]
        super().__delitem__(key)
        if self._owner is not None:
            self._owner._untrack_attribute(value)

    def __reduce_ex__(self, protocol):
        return dict, (dict(self),)
