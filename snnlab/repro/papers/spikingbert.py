"""SpikingBERT: does distilling an ANN transformer into a spiking transformer trained at equilibrium beat training the
same spiking student alone?

Bal & Sengupta, *SpikingBERT: Distilling BERT to Train Spiking Language Models Using Implicit Differentiation*,
AAAI 2024. Per seed, on the embedded ``text`` set (synthetic SST-2-like sentiment with negation scope): an ANN
transformer teacher is trained with cross entropy; then the same SpikingBERT student (same initial weights, data,
budget and seed) is trained twice, both with implicit differentiation at the average spiking rates (no BPTT, no
surrogate gradient): with the paper's two-stage KD (internal-layer KD, then prediction-layer KD) and with cross
entropy on the labels alone. Every student's Norm#OPS and ANN/SNN energy ratio are recorded per time step and per
inference (:func:`snnlab.methods.spikingbert.spikingbert_energy`).

The ``paper`` preset documents the paper's setting (GLUE SST-2, a fine-tuned BERT-base teacher, a 4-layer student
of width 768 run for 80 time steps). snnlab ships neither SST-2 nor BERT weights, and this reproduction does not
wrap HuggingFace models, so that preset stops with an error that lists what to obtain.
"""
from __future__ import annotations

from torch import nn

from ...data.cache import data_root
from ...methods.base import ANNClassification, Method
from ...methods.spikingbert import SpikingBERTKD, spikingbert_energy
from ...models.transformer import SpikingBERTStudent, TransformerClassifier
from ...reproducibility import seed_everything
from ...train import TrainConfig, Trainer, final_accuracy, test_curve
from ..common import data_info, load_data
from ..networks import with_network
from ..registry import BOOK_SEEDS, Contrast, Premise, Reproduction, register

__all__ = ["PRESETS", "ARMS", "ENERGY_METRICS", "run_seed", "PaperResourcesMissing"]

ARMS = ("kd", "no-kd", "teacher")
"""The distilled student first, the same student trained on the labels alone second, then the ANN teacher."""

ENERGY_METRICS = ("norm_ops_per_step", "norm_ops_per_inference", "energy_ratio_per_step", "energy_ratio_per_inference")
"""What each student arm records from :func:`~snnlab.methods.spikingbert.spikingbert_energy`."""

_TEACHER_TRAIN = dict(optimizer="adam", lr=1e-3, scheduler="cosine", batch_size=32)
_STUDENT_TRAIN = dict(optimizer="adam", lr=1e-2, scheduler="cosine", batch_size=64)

PRESETS = {
    "smoke": dict(dataset="text", data_options=dict(train_size=64, test_size=64, max_len=32),
                  teacher=dict(model_options=dict(dim=32, heads=2, layers=2, ffn=64, dropout=0.0, pool="mean"),
                               train=dict(_TEACHER_TRAIN, epochs=2)),
                  model_options=dict(dim=16, heads=2, layers=1, ffn=32, t_conv=4, pool="mean"),
                  train=dict(_STUDENT_TRAIN, batch_size=32, epochs=2), ikd_epochs=1, temperature=1.0,
                  energy_samples=32, seeds=1),
    "book": dict(dataset="text", data_options=dict(train_size=3000, test_size=2000, max_len=32),
                 teacher=dict(model_options=dict(dim=64, heads=2, layers=2, ffn=128, dropout=0.1, pool="mean"),
                              train=dict(_TEACHER_TRAIN, epochs=12)),
                 model_options=dict(dim=32, heads=2, layers=2, ffn=64, t_conv=12, pool="mean"),
                 train=dict(_STUDENT_TRAIN, epochs=5), ikd_epochs=2, temperature=1.0, energy_samples=256,
                 seeds=BOOK_SEEDS),
    # The paper (Bal & Sengupta 2024) and its code: GLUE SST-2; teacher BERT-base (12 layers, 768 wide, 12 heads)
    # fine-tuned on SST-2; student 4 layers, 768 wide, 12 heads, IF neurons with V_th = 1, T_conv = 80, Broyden
    # with 30 iterations in the backward pass; internal-layer KD, then prediction-layer KD at t' = 1.
    "paper": dict(dataset="sst2", data_options=dict(max_len=64),
                  teacher=dict(model="bert-base-uncased fine-tuned on SST-2"),
                  model_options=dict(dim=768, heads=12, layers=4, ffn=3072, t_conv=80, backward_max_iter=30),
                  train=dict(optimizer="adamw", lr=5e-5, scheduler="cosine", batch_size=32, epochs=20),
                  ikd_epochs=10, temperature=1.0, energy_samples=872, seeds=1),
}


class PaperResourcesMissing(FileNotFoundError):
    """The ``paper`` preset needs data and weights snnlab does not ship."""


def _paper_resources_error() -> PaperResourcesMissing:
    return PaperResourcesMissing(
        "the SpikingBERT paper preset needs resources snnlab does not ship or download:\n"
        "  1. GLUE SST-2 (https://gluebenchmark.com/tasks, file SST-2.zip: train.tsv, dev.tsv with 'sentence' and "
        f"'label' columns), placed under {data_root() / 'sst2'};\n"
        "  2. a BERT-base teacher fine-tuned on SST-2 (e.g. the HuggingFace model 'textattack/bert-base-uncased-SST-2' "
        "with its WordPiece tokenizer, `pip install transformers`).\n"
        "snnlab has no SST-2 reader and no HuggingFace wrapper; adapt snnlab.repro.papers.spikingbert.run_seed (tokenise "
        "with the teacher's tokenizer; read the teacher's embedding output and hidden states with "
        "output_hidden_states=True and its attention scores before the softmax, which output_attentions=True does not "
        "give: it returns the probabilities) and run it on a GPU. The book preset runs the same method on the "
        "embedded 'text' set.")


def _train(method: Method, data, train: dict, seed: int, progress: bool) -> list[dict]:
    return Trainer(method, data[0], data[1], TrainConfig(seed=seed, progress=progress, **train)).fit()


def _params(model: nn.Module) -> float:
    return float(sum(p.numel() for p in model.parameters()))


def _shape(info) -> dict:
    """The vocabulary size, classes and longest sequence of the ``text`` set that both transformers are built for."""
    return dict(vocab_size=info.extra["vocab_size"], num_classes=info.num_classes, max_len=info.extra["max_len"])


def network(settings: dict, arm: str) -> SpikingBERTStudent:
    """The network a record keeps for ``arm`` (``kd`` or ``no-kd``): the spiking student of the setting."""
    return SpikingBERTStudent(**_shape(data_info(settings)), **settings["model_options"])


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """Teacher, then the student with and without KD, for one seed (see the module docstring)."""
    if settings["dataset"] != "text":
        raise _paper_resources_error()
    data = load_data(settings)
    shape = _shape(data[0].info)
    seed_everything(seed)
    teacher = TransformerClassifier(**shape, **settings["teacher"]["model_options"])
    history = _train(ANNClassification(teacher), data, settings["teacher"]["train"], seed, progress)
    results = {"teacher": {"final": final_accuracy(history), "curve": test_curve(history),
                           "metrics": {"params": _params(teacher)}}}
    energy_ids = data[1].ids[:settings["energy_samples"]]
    for arm in ("kd", "no-kd"):
        seed_everything(seed)
        student = SpikingBERTStudent(**shape, **settings["model_options"])
        method = (SpikingBERTKD(student, teacher, settings["ikd_epochs"], settings["temperature"]) if arm == "kd"
                  else ANNClassification(student))
        history = _train(method, data, settings["train"], seed, progress)
        energy = spikingbert_energy(student, energy_ids)
        results[arm] = with_network({"final": final_accuracy(history), "curve": test_curve(history),
                                     "metrics": {"params": _params(student),
                                                 **{key: energy[key] for key in ENERGY_METRICS},
                                                 "mean_rate": sum(energy["rates"].values()) / len(energy["rates"])}},
                                    student)
    return results


register(Reproduction(
    name="spikingbert",
    paper="Bal & Sengupta. SpikingBERT: Distilling BERT to Train Spiking Language Models Using Implicit "
          "Differentiation. AAAI 2024",
    claim="A spiking transformer trained at equilibrium with implicit differentiation learns sentence "
          "classification, and distilling an ANN transformer into it (internal-layer KD, then prediction-layer KD) "
          "gives higher accuracy than training the same student on the labels alone, with fewer operations per time "
          "step than the ANN's one pass (Norm#OPS per step < 1; one inference runs T_conv steps, so its Norm#OPS is "
          "T_conv times that)",
    metric="test accuracy (%)",
    arms=ARMS,
    premise=Premise("the teacher knows more: it beats the spiking student trained without KD by at least 3 points",
                    Contrast("teacher", "no-kd"), 3.0),
    against="the same spiking student trained on the labels alone (the paper's comparison of its KD stages with "
            "training without KD)",
    presets=PRESETS,
    run_seed=run_seed,
    network=network,
    paper_result={"dataset": "SST-2 (GLUE dev)", "teacher": "BERT-base", "student": "SpikingBERT, 4 layers",
                  "T_conv": 80, "kd": 88.19},
))
