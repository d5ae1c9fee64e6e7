"""Methods: one module per paper; each turns a batch into ``(outputs, {loss_name: loss})``."""
from .base import ANNClassification, DistilledANN, Method, SpikingMethod
from .dkd import DKD
from .joint_asnn import JointASNN, SummedOutputCE
from .kdsnn import KDSNN
from .lasnn import LaSNN
from .mskd import MSKD
from .spikingbert import SpikingBERTKD
from .ssnn import SSNN
from .tet import TET, MeanOutputCE
from .tssd import TSSD

__all__ = ["Method", "SpikingMethod", "ANNClassification", "DistilledANN", "TET", "MeanOutputCE", "MSKD", "TSSD", "SSNN",
           "JointASNN", "SummedOutputCE", "SpikingBERTKD", "KDSNN",
           "LaSNN", "DKD"]
