"""Data sets: ``get_dataset(name, split, **options)`` over embedded stand-ins and real-data loaders."""
from . import digits as _digits  # noqa: F401  (registers "digits")
from . import event_digits as _event_digits  # noqa: F401  (registers "event-digits")
from . import eye as _eye  # noqa: F401  (registers "eye")
from . import fashion as _fashion  # noqa: F401  (registers "fashion", "fashion-mnist")
from . import gestures as _gestures  # noqa: F401  (registers "event-gestures")
from . import see as _see  # noqa: F401  (registers "see")
from . import static_sets as _static_sets  # noqa: F401  (registers "cifar10", "cifar100", "mnist")
from . import tonic_sets as _tonic_sets  # noqa: F401  (registers dvs-gesture, cifar10-dvs, n-caltech101, n-mnist)
from .text import TextDataset, WordTokenizer  # registers "text"
from .registry import SPLITS, DatasetInfo, dataset_names, get_dataset, register_dataset

__all__ = ["get_dataset", "dataset_names", "register_dataset", "DatasetInfo", "SPLITS", "TextDataset", "WordTokenizer"]
