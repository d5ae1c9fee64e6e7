"""SSNN: is a network whose later stages run at fewer time steps more accurate than a plain SNN at the same average
number of time steps?

Per seed, with identical initial weights and budget: SSNN (temporal transformers between stages, early classifiers),
its ablations (the summed output spread evenly instead of the learned transformer; no early classifiers), and the
baseline SNN run at ``T = T_avg`` for every layer, and the plain SNN at ``T_1`` (the premise: more time steps help
this network on these data). The staged arms read recordings cut into ``T_1`` frames, the
baseline the same recordings cut into ``T_avg`` frames, so every arm sees the whole recording. What the temporal
transformers of a trained SSNN do is read by :func:`read_transformers` (e.g. on the network a record keeps).
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from ...methods import SSNN, MeanOutputCE
from ...models import ShrinkingSNN
from ...models.registry import build_model
from ...train import collate_fn_for
from ..common import load_data, setting_model, train_arm
from ..registry import BOOK_SEEDS, Contrast, PaperVariant, Premise, Reproduction, register
from ..sweeps import Sweep, register_sweep

__all__ = ["PRESETS", "VARIANTS", "ARMS", "run_seed", "network", "average_steps", "read_transformers"]

ARMS = ("ssnn", "baseline", "no-transformer", "no-early-classifiers", "baseline-at-T1")
"""SSNN first, the plain SNN at the same T_avg second (the compared pair), then the two ablations, then the plain
SNN at the first stage's steps T_1 (the premise: more steps help)."""

_ADAM = dict(optimizer="adam", lr=3e-3, scheduler="cosine", batch_size=32)

PRESETS = {
    "smoke": dict(dataset="event-gestures", data_options=dict(frames=6, size=16, polarity="merge",
                                                              train_per_class=8, test_per_class=4),
                  model="small-cnn", model_options=dict(in_channels=1, width=4, neuron="ssnn"), steps=(6, 4, 2),
                  T_baseline=4, seeds=1, train=dict(_ADAM, epochs=1)),
    # Polarities merged: with ON and OFF apart, one time-collapsed frame already shows which way the hand moved (the
    # plain SNN is as accurate at T = 1 as at T = 6), so time steps would carry nothing for SSNN to save.
    "book": dict(dataset="event-gestures", data_options=dict(frames=6, size=16, polarity="merge"),
                 model="small-cnn", model_options=dict(in_channels=1, width=8, neuron="ssnn"), steps=(6, 4, 2),
                 T_baseline=4, seeds=BOOK_SEEDS, train=dict(_ADAM, epochs=10)),
    # VGG-9 on CIFAR10-DVS at T_avg = 5: stages of 2 | 2 | 3 convolution units at 8 | 5 | 3 steps (35 / 7; the
    # classifier runs at 3). The paper's recipe: SGD at 0.1, divided by 10 every 30 epochs, 100 epochs, weight
    # decay 1e-3; the momentum (0.9) and batch size (64) are not given and are ours.
    "paper": dict(dataset="cifar10-dvs", data_options=dict(frames=8, size=48), model="vgg9",
                  model_options=dict(in_channels=2, input_size=48, neuron="ssnn"), steps=(8, 5, 3), T_baseline=5,
                  seeds=1, train=dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-3, scheduler="step",
                                      step_size=30, gamma=0.1, batch_size=64, epochs=100)),
}


VARIANTS = {
    "dvs-gesture": PaperVariant({**PRESETS["paper"], "dataset": "dvs-gesture"},
                                {"dataset": "DVS-Gesture", "model": "VGG-9", "T": "T_avg = 5", "ssnn": 90.74}),
    # N-Caltech101 is in the paper's ablations at T_avg = 5; no number for it is used here.
    "n-caltech101": PaperVariant({**PRESETS["paper"], "dataset": "n-caltech101"}, None),
}


def average_steps(settings: dict, num_classes: int) -> float:
    """:math:`T_{avg}` of a setting's staged network."""
    model = build_model(settings["model"], num_classes=num_classes, **settings["model_options"])
    return ShrinkingSNN(model, settings["steps"]).t_avg


def _baseline(settings: dict, T: int, seed: int, progress: bool) -> dict:
    """The plain SNN at ``T`` steps for every layer, on the same recordings cut into ``T`` frames."""
    at_T = {**settings, "data_options": {**settings["data_options"], "frames": T}}
    return train_arm(lambda model: MeanOutputCE(model, T), at_T, seed, progress)


def _staged(steps, classes: int, redistribution: str = "transformer", early: bool = True):
    """A method factory: the model staged at ``steps`` and trained with SSNN's losses."""
    return lambda model: SSNN(ShrinkingSNN(model, steps, redistribution), classes, early_classifiers=early)


def network(settings: dict, arm: str) -> ShrinkingSNN | torch.nn.Module:
    """The network a record keeps for ``arm``: the plain SNN of a baseline arm, the staged network otherwise."""
    model = setting_model(settings)
    if arm.startswith("baseline"):
        return model
    return ShrinkingSNN(model, tuple(settings["steps"]), "mean" if arm == "no-transformer" else "transformer")


def run_seed(settings: dict, seed: int, progress: bool) -> dict:
    """The four arms for one seed (see the module docstring)."""
    data = load_data(settings)
    classes, steps = data[0].info.num_classes, settings["steps"]
    t_avg = average_steps(settings, classes)
    results = {
        "ssnn": train_arm(_staged(steps, classes), settings, seed, progress, data),
        "baseline": _baseline(settings, settings["T_baseline"], seed, progress),
        "no-transformer": train_arm(_staged(steps, classes, "mean"), settings, seed, progress, data),
        "no-early-classifiers": train_arm(_staged(steps, classes, early=False), settings, seed, progress, data),
        "baseline-at-T1": _baseline(settings, steps[0], seed, progress),
    }
    plain_steps = {"baseline": settings["T_baseline"], "baseline-at-T1": steps[0]}
    for arm, result in results.items():
        result["metrics"] = {"T_avg": float(plain_steps.get(arm, t_avg))}
    return results


def average_steps_point(settings: dict, steps, seed: int, progress: bool) -> dict:
    """One point of the :math:`T_{avg}` sweep: SSNN with stage steps ``steps`` (recordings cut into ``steps[0]``
    frames) and the plain SNN at ``T = T_avg``, which must be a whole number for that layout."""
    staged_settings = {**settings, "steps": tuple(steps),
                       "data_options": {**settings["data_options"], "frames": steps[0]}}
    data = load_data(staged_settings)
    classes = data[0].info.num_classes
    t_avg = average_steps(staged_settings, classes)
    if t_avg != int(t_avg):
        raise ValueError(f"stage steps {tuple(steps)} give T_avg = {t_avg:.3g}; the baseline needs a whole number")
    return {"ssnn": train_arm(_staged(steps, classes), staged_settings, seed, progress, data)["final"],
            "baseline": _baseline(settings, int(t_avg), seed, progress)["final"], "T_avg": t_avg}


register(Reproduction(
    name="ssnn",
    paper="Ding, Zuo, Jing, He & Xiao. Shrinking Your TimeStep: Towards Low-Latency Neuromorphic Object Recognition "
          "with Spiking Neural Networks. AAAI 2024",
    claim="A network whose later stages run at fewer time steps (temporal transformers, early classifiers) is more "
          "accurate than a plain SNN at the same average number of time steps",
    metric="test accuracy (%)",
    arms=ARMS,
    premise=Premise("more time steps help: the plain SNN at the first stage's T_1 beats it at T_avg by at least "
                    "1 point", Contrast("baseline-at-T1", "baseline"), 1.0),
    against="a plain SNN of the same network run at the same average number of time steps (the paper's "
            "comparison at equal T_avg)",
    presets=PRESETS,
    run_seed=run_seed,
    network=network,
    paper_result={"dataset": "CIFAR10-DVS", "model": "VGG-9", "T": "T_avg = 5", "ssnn": 73.63},
    variants=VARIANTS,
))


@torch.no_grad()
def read_transformers(net: ShrinkingSNN, test_set) -> dict:
    r"""What the temporal transformers of a trained staged network ``net`` do on ``test_set``: for every transition,
    the share :math:`d_t` of a stage's summed output sent to each step of the next stage (``distributions``: per
    transition, per class, the mean over that class's recordings); and stage 1's mean activity per step
    (``stage_1_output``) beside the input the first transformer hands to stage 2, :math:`d_t \sum_{t'}
    O^{avg}_{t'}` (``stage_2_input``; means over the recordings), whose totals are equal. With the ``steps`` and the
    ``classes``' names."""
    net.eval()
    distributions, first_stage, labels = [[] for _ in net.transitions], [], []
    for x, y in DataLoader(test_set, batch_size=64, collate_fn=collate_fn_for(test_set)):
        _, stage_out = net.stage_outputs(x[:net.steps[0]])
        for found, out, transition in zip(distributions, stage_out, net.transitions):
            found.append(transition.distribution(out))
        first_stage.append(stage_out[0].flatten(2).mean(-1).transpose(0, 1))
        labels.append(y)
    distributions, activity, labels = [torch.cat(d) for d in distributions], torch.cat(first_stage), torch.cat(labels)
    handed_on = distributions[0] * activity.sum(1, keepdim=True)
    classes = test_set.info.classes
    return {"steps": list(net.steps), "classes": list(classes),
            "distributions": [[d[labels == c].mean(0).tolist() for c in range(len(classes))] for d in distributions],
            "stage_1_output": activity.mean(0).tolist(), "stage_2_input": handed_on.mean(0).tolist()}

# The small CNN has one spiking layer per stage, so T_avg is the mean of the stage steps: 2, 3, 4 and 5.
register_sweep(Sweep(name="ssnn-average-steps", reproduction="ssnn", parameter="stage steps (T_1, T_2, T_3)",
                     run_point=average_steps_point,
                     values={"smoke": ((3, 2, 1), (4, 3, 2)), "book": ((3, 2, 1), (4, 3, 2), (6, 4, 2), (7, 5, 3))},
                     description="SSNN and the plain SNN at the same average number of time steps"))
