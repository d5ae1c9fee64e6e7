import pytest
import torch
from torch.utils.data import TensorDataset

from snnlab.data.registry import DatasetInfo


@pytest.fixture
def tiny_images():
    """A learnable 4-class image task: the class is the quadrant holding a bright square (train, test)."""

    def make(n, seed):
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, 4, (n,), generator=g)
        x = 0.2 * torch.rand(n, 1, 8, 8, generator=g)
        for i, c in enumerate(y.tolist()):
            r, col = divmod(c, 2)
            x[i, 0, 4 * r:4 * r + 3, 4 * col:4 * col + 3] += 0.8
        ds = TensorDataset(x, y)
        ds.info = DatasetInfo("tiny", classes=("a", "b", "c", "d"), sample_shape=(1, 8, 8))
        return ds

    return make(96, 0), make(48, 1)


@pytest.fixture(scope="module")
def private_data_dir(tmp_path_factory):
    """A data folder of the test module's own (``SNNLAB_DATA``), so cache entries never touch the repository's."""
    root = tmp_path_factory.mktemp("snnlab-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SNNLAB_DATA", str(root))
        yield root
