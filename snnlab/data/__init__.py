"""Data sets: ``get_dataset(name, split, **options)`` over embedded stand-ins and real-data loaders."""
from . import digits as _digits  # noqa: F401  (registers "digits")
from .registry import SPLITS, DatasetInfo, dataset_names, get_dataset, register_dataset

__all__ = ["get_dataset", "dataset_names", "register_dataset", "DatasetInfo", "SPLITS"]
