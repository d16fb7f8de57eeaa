"""DataIter: the base class of every iterd iterator, as MXNet's mx.io.DataIter.

A user-written iterator subclasses it and implements either next() (returning a DataBatch, raising
StopIteration at the end of the epoch) or the lower-level iter_next() + getdata() / getlabel() /
getpad() / getindex(), which the default next() combines into a DataBatch.

provide_data / provide_label are lists of DataDesc. Subclasses usually keep them in the
`_provide_data` / `_provide_label` attributes (the tutorial's SimpleIter does): assigning those
attributes stores a list, so that the `zip(names, shapes)` written for Python 2 in MXNet's tutorial
still describes every batch under Python 3 (a bare zip object would be exhausted after one batch).

Not thread-safe: use one iterator from one thread at a time (PrefetchingIter honours this).
"""
from iterd.descriptors import DataBatch
from iterd.descriptors import DataDesc


def descriptor_list(descriptors):
    """A list of DataDesc from DataDescs or (name, shape[, dtype[, layout]]) tuples.

    Any iterable, including a one-shot zip object, is read once here. None, non-iterables and
    items that are no such tuple are kept as given: the attribute belongs to the subclass, which
    may store what it likes there.
    """
    if descriptors is None or isinstance(descriptors, (str, bytes, dict)):
        return descriptors
    try:
        items = list(descriptors)
    except TypeError:
        return descriptors
    return [DataDesc(*item) if _is_descriptor_tuple(item) else item for item in items]


def _is_descriptor_tuple(item):
    return (isinstance(item, (tuple, list)) and not isinstance(item, DataDesc) and
            2 <= len(item) <= 4 and isinstance(item[0], str))


class _DescriptorListAttribute(object):
    """A data descriptor storing, per instance, descriptor_list(value) of what is assigned.

    A data descriptor on the class takes precedence over the instance dictionary, so even a
    subclass that never calls DataIter.__init__ (SimpleIter) gets its zip materialized.
    """

    def __init__(self, storage_name):
        self._storage_name = storage_name

    def __get__(self, instance, owner):
        if instance is None:
            return self
        return instance.__dict__.get(self._storage_name, [])

    def __set__(self, instance, value):
        instance.__dict__[self._storage_name] = descriptor_list(value)


class DataIter(object):
    """mx.io.DataIter: the iterator protocol of iterd's iterators and of user-written ones.

    Attributes:
      batch_size: samples per batch (0 when the iterator does not say).
      provide_data, provide_label: lists of DataDesc (empty until the iterator sets them).
    """

    # A class-level default: subclasses written for MXNet often skip DataIter.__init__.
    batch_size = 0

    _provide_data = _DescriptorListAttribute("_iterd_provide_data")
    _provide_label = _DescriptorListAttribute("_iterd_provide_label")

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    @property
    def provide_data(self):
        return self._provide_data

    @provide_data.setter
    def provide_data(self, descriptors):
        # MXNet's wrappers (ResizeIter) assign provide_data on the instance.
        self._provide_data = descriptors

    @property
    def provide_label(self):
        return self._provide_label

    @provide_label.setter
    def provide_label(self, descriptors):
        self._provide_label = descriptors

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """The next DataBatch, built from iter_next() and the get*() methods; StopIteration at
        the end of the epoch."""
        if self.iter_next():
            return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(),
                             index=self.getindex())
        raise StopIteration

    def reset(self):
        """Rewinds to the start of the next epoch. The base class has nothing to rewind."""

    def iter_next(self):
        """Moves to the next batch; False at the end of the epoch. Subclasses implement it (or
        next()) themselves."""
        raise NotImplementedError("%s implements neither next() nor iter_next()" %
                                  type(self).__name__)

    def getdata(self):
        """The data arrays (a list) of the current batch."""
        raise NotImplementedError("%s does not implement getdata()" % type(self).__name__)

    def getlabel(self):
        """The label arrays (a list) of the current batch; None (MXNet's default) for an
        iterator without labels."""
        return None

    def getindex(self):
        """The sample index array of the current batch, or None (MXNet's default)."""
        return None

    def getpad(self):
        """The number of filler samples at the end of the current batch; None (MXNet's default)
        when the iterator does not say."""
        return None


class BatchCursorDataIter(DataIter):
    """A DataIter that keeps the batch it is on in `current_batch`, which the get*() methods read.

    Subclasses either fill `current_batch` in iter_next() (ResizeIter, PrefetchingIter) or
    implement next() and inherit the iter_next() below, which stores what next() returns (the
    remote iterators). One of the two must be overridden.
    """

    current_batch = None

    def iter_next(self):
        try:
            self.current_batch = self.next()
        except StopIteration:
            self.current_batch = None
            return False
        return True

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad
