"""One trainer for every method: seeds, device, AMP, DDP (torchrun), checkpoints and resume, progress, history.

A :class:`~snnlab.methods.Method` turns a batch into ``(outputs, {loss_name: loss})``; the trainer minimises the sum
of the loss terms and records every term per epoch.

Reproducibility: each epoch's randomness (shuffling, Poisson encoding, dropout) is drawn from generators seeded by
``(seed, epoch, rank)``, so the same seed gives identical metrics on CPU, and a run resumed from a checkpoint ends
with exactly the metrics of an uninterrupted run. Build the model after :func:`~snnlab.reproducibility.seed_everything`
so its initial weights are reproducible too.

Distributed: launched with ``torchrun --nproc_per_node=K script.py``, the trainer joins the process group (gloo on
CPU, nccl on CUDA), wraps the method in ``DistributedDataParallel``, shards the data with ``DistributedSampler`` and
logs and checkpoints on rank 0 only. ``batch_size`` is per process.
"""
from __future__ import annotations

import os
import pickle
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm.auto import tqdm

from .execution import NeuronPathProbe, report_execution
from .io import atomic_torch_save
from .methods.base import Method
from .reproducibility import derived_seed
from .threads import configure_threads

__all__ = ["TrainConfig", "Trainer", "NonFiniteLossError", "RUN_OPTIONS", "collate_fn_for", "final_accuracy",
           "tested_epochs", "test_curve", "check_device"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("cosine", "step", "multistep", "none")


def to_device(inputs, device: "torch.device | str"):
    """Model inputs on ``device``: a tensor, or (multimodal data) a dict of tensors."""
    if isinstance(inputs, dict):
        return {key: value.to(device, non_blocking=True) for key, value in inputs.items()}
    return inputs.to(device, non_blocking=True)


class NonFiniteLossError(FloatingPointError):
    """Raised when a batch's inputs or a loss term (the student's or, through a distillation term, a teacher's) are
    NaN or infinite: training stops before the weights change, and the buffers the batch's forward pass updated
    (batch-norm statistics) are put back as they were before it (spiking neurons turn a NaN input into "no spike",
    so the loss alone would not show it)."""


def check_device(device: str) -> str:
    """``device`` when this machine has it (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``); else a
    one-line ``ValueError`` saying what is available."""
    if device == "auto":
        return device
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:N, mps or auto") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (parsed.index or 0) >= count:
            raise ValueError(f"device {device!r} does not exist here ({count} CUDA device(s)); use "
                             + (f"cuda:0 to cuda:{count - 1}" if count else "cpu"))
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} does not exist here (no MPS backend); use cpu")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"snnlab does not train on {device!r}: use cpu, cuda, cuda:N, mps or auto")
    return device


RUN_OPTIONS = ("device", "num_workers", "checkpoint_dir", "resume", "progress", "find_unused_parameters",
               "eval_every")
"""TrainConfig fields that do not change what is trained: a checkpoint resumes whatever their values."""


@dataclass
class TrainConfig:
    """Training hyper-parameters and run options (all plain values, stored in checkpoints).

    ``scheduler``: ``"cosine"`` (annealed to 0 over ``epochs``), ``"step"`` (× ``gamma`` every ``step_size``
    epochs), ``"multistep"`` (× ``gamma`` after each epoch listed in ``milestones``) or ``"none"``. ``amp`` applies on CUDA only. ``checkpoint_dir``: where ``last.pt`` is written after
    every epoch; with ``resume=True`` a run continues from it if it exists — loaded with ``weights_only=True`` (a
    checkpoint cannot run code), and refused with the list of differences if it was written with another
    configuration (the fields of :data:`RUN_OPTIONS` aside). ``eval_every``: test after every ``eval_every``-th
    epoch and after the last (epochs in between carry no ``test_acc``; see :func:`test_curve`).
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    step_size: int = 30
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    num_workers: int = 0
    grad_clip: float | None = None
    max_steps_per_epoch: int | None = None
    checkpoint_dir: str | None = None
    resume: bool = False
    progress: bool = True
    find_unused_parameters: bool = False
    eval_every: int = 1

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; choose one of {SCHEDULERS}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1 (got {self.epochs}, {self.batch_size})")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"max_steps_per_epoch must be None (every batch) or >= 1, got {self.max_steps_per_epoch}")
        if not self.lr > 0 or self.num_workers < 0:
            raise ValueError(f"lr must be > 0 and num_workers >= 0 (got {self.lr}, {self.num_workers})")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be >= 1 (test after every k-th epoch), got {self.eval_every}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 (the largest gradient norm) or None (no clipping), got "
                             f"{self.grad_clip}")
        if self.step_size < 1 or not self.gamma > 0:
            raise ValueError(f"step_size must be >= 1 and gamma > 0 (got {self.step_size}, {self.gamma})")
        self.milestones = tuple(self.milestones)
        if self.scheduler == "multistep" and (
                not self.milestones or list(self.milestones) != sorted(set(self.milestones))
                or not all(isinstance(m, int) and 1 <= m < self.epochs for m in self.milestones)):
            raise ValueError(f"the multistep scheduler needs milestones: increasing epochs in [1, {self.epochs - 1}] "
                             f"after which the learning rate is multiplied by gamma, got {self.milestones}")
        if self.momentum < 0 or self.weight_decay < 0:
            raise ValueError(f"momentum and weight_decay must be >= 0 (got {self.momentum}, {self.weight_decay})")
        check_device(self.device)
        if self.resume and not self.checkpoint_dir:
            raise ValueError("resume=True needs checkpoint_dir (the folder holding last.pt)")


@contextmanager
def _buffers_kept_on_error(module: torch.nn.Module):
    """Within the block, an error puts every buffer of ``module`` (batch-norm statistics, the student's and any
    teacher's) back as it was before the block: a batch refused after its forward pass leaves no trace."""
    saved = [(buffer, buffer.clone()) for buffer in module.buffers()]
    try:
        yield
    except BaseException:
        with torch.no_grad():
            for buffer, before in saved:
                buffer.copy_(before)
        raise


def _info(dataset: Dataset):
    """The :class:`~snnlab.data.registry.DatasetInfo` of a data set (or of the one a ``Subset`` is cut from), or
    ``None`` for a data set without one."""
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    return getattr(base, "info", None)


def collate_fn_for(dataset: Dataset) -> Callable | None:
    """The collate function a dataset asks for (event data batches time-major), or the default."""
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    return getattr(base, "collate_fn", None)


@dataclass
class _DistState:
    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0


def _init_distributed(device_type: str) -> _DistState:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return _DistState()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return _DistState(True, dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


@dataclass
class Trainer:
    """Train ``method`` on ``train_set``, evaluating test accuracy on ``test_set`` after every epoch.

    >>> trainer = Trainer(TET(SmallCNN(10), T=4), train_set, test_set, TrainConfig(epochs=5))
    >>> history = trainer.fit()      # [{'epoch': 1, 'loss': ..., 'loss/ce': ..., 'train_acc': ..., 'test_acc': ...}, ...]

    ``callbacks`` are called as ``callback(trainer, record)`` after each epoch (after the checkpoint is written);
    :mod:`snnlab.callbacks` has loggers that write the history as CSV and as TensorBoard scalars.
    """

    method: Method
    train_set: Dataset
    test_set: Dataset | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    callbacks: Iterable[Callable] = ()

    def __post_init__(self):
        cfg = self.config
        for name, dataset in (("train_set", self.train_set), ("test_set", self.test_set)):
            if dataset is not None and len(dataset) == 0:
                raise ValueError(f"{name} is empty: check the data set's options (split, limits, condition filter)")
        if cfg.device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        else:
            device = cfg.device
        self.dist = _init_distributed(torch.device(device).type)
        if self.dist.enabled and torch.device(device).type == "cuda":
            device = f"cuda:{self.dist.local_rank}"
            torch.cuda.set_device(self.dist.local_rank)
        self.device = torch.device(device)
        self.method.to(self.device)
        params = [p for p in self.method.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the method has no trainable parameters (all have requires_grad=False)")
        self.optimizer = self._build_optimizer(params)
        self.scheduler = self._build_scheduler()
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.module = (DistributedDataParallel(self.method, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                                               find_unused_parameters=cfg.find_unused_parameters)
                       if self.dist.enabled else self.method)
        self.history: list[dict] = []
        self.neuron_paths: dict[str, str] | None = None   # set by the first training step (NeuronPathProbe)
        self.start_epoch = 1
        if cfg.resume and self.checkpoint_path.exists():
            self.load_checkpoint(self.checkpoint_path)

    # -- construction helpers --------------------------------------------------------------------------------------
    def _build_optimizer(self, params):
        cfg = self.config
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _build_scheduler(self):
        cfg = self.config
        if cfg.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=cfg.epochs)
        if cfg.scheduler == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
        if cfg.scheduler == "multistep":
            return torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=list(cfg.milestones),
                                                        gamma=cfg.gamma)
        return None

    @property
    def execution(self) -> dict:
        """What this run trains on: ``{"device", "amp", "neurons": {neuron path: implementation}}`` (the neurons as
        probed on the first training step; see :mod:`snnlab.execution`)."""
        return {"device": self.device.type, "amp": self.use_amp, "neurons": dict(self.neuron_paths or {})}

    @property
    def is_main(self) -> bool:
        return self.dist.rank == 0

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.config.checkpoint_dir or ".") / "last.pt"

    def _train_loader(self, epoch: int) -> DataLoader:
        cfg = self.config
        common = dict(batch_size=cfg.batch_size, num_workers=cfg.num_workers, collate_fn=collate_fn_for(self.train_set),
                      pin_memory=self.device.type == "cuda")
        if self.dist.enabled:
            sampler = DistributedSampler(self.train_set, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                         shuffle=True, seed=cfg.seed)
            sampler.set_epoch(epoch)
            return DataLoader(self.train_set, sampler=sampler, **common)
        generator = torch.Generator().manual_seed(derived_seed(cfg.seed, epoch, 0))
        return DataLoader(self.train_set, shuffle=True, generator=generator, **common)

    def _eval_loader(self, dataset: Dataset) -> DataLoader:
        if self.dist.enabled:  # an exact shard per rank (no padding), counts are summed across ranks
            dataset = Subset(dataset, range(self.dist.rank, len(dataset), self.dist.world_size))
        return DataLoader(dataset, batch_size=self.config.batch_size, shuffle=False,
                          num_workers=self.config.num_workers, collate_fn=collate_fn_for(dataset))

    def _seed_epoch(self, epoch: int) -> None:
        seed = derived_seed(self.config.seed, epoch, self.dist.rank)
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)

    def _batch_to_device(self, batch):
        """Inputs and targets on the trainer's device."""
        return to_device(batch[0], self.device), batch[1].to(self.device, non_blocking=True)

    # -- training ------------------------------------------------------------------------------------------------
    def fit(self) -> list[dict]:
        """Train from ``start_epoch`` to ``config.epochs``; returns the per-epoch history. PyTorch computes with the
        cores other processes leave free (:func:`snnlab.threads.configure_threads`; ``$SNNLAB_THREADS`` overrides)."""
        cfg = self.config
        configure_threads()
        epochs = range(self.start_epoch, cfg.epochs + 1)
        bar = tqdm(epochs, desc=type(self.method).__name__, unit="epoch", disable=not (cfg.progress and self.is_main),
                   initial=self.start_epoch - 1, total=cfg.epochs)
        try:
            for epoch in bar:
                record = self.train_epoch(epoch)
                if self.test_set is not None and epoch in tested_epochs(cfg.epochs, cfg.eval_every):
                    record["test_acc"] = self.evaluate(self.test_set)
                self.history.append(record)
                bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k in ("loss", "train_acc", "test_acc")})
                if cfg.checkpoint_dir and self.is_main:
                    self.save_checkpoint(self.checkpoint_path, epoch)
                for callback in self.callbacks:
                    callback(self, record)
        finally:
            bar.close()
        return self.history

    def train_epoch(self, epoch: int) -> dict:
        """One pass over the training data; returns the epoch's record (means of every loss term, accuracy)."""
        cfg = self.config
        self._seed_epoch(epoch)
        self.method.on_epoch_start(epoch)
        self.method.train()
        loader = self._train_loader(epoch)
        n_steps = len(loader) if cfg.max_steps_per_epoch is None else min(len(loader), cfg.max_steps_per_epoch)
        sums: dict[str, float] = {}
        correct = seen = 0
        start = time.perf_counter()
        batches = tqdm(loader, total=n_steps, desc=f"epoch {epoch}", leave=False, unit="batch",
                       disable=not (cfg.progress and self.is_main))
        for step, batch in enumerate(batches):
            if step >= n_steps:
                break
            inputs, targets = self._batch_to_device(batch)
            where = f"training batch {step} of epoch {epoch}"
            self._check_inputs(inputs, where)
            self._check_layout(inputs, self.train_set)
            self._check_targets(targets, self.train_set, where)
            probe = NeuronPathProbe(self.method) if self.neuron_paths is None else nullcontext()
            with _buffers_kept_on_error(self.method):
                with probe, torch.autocast(self.device.type, enabled=self.use_amp):
                    outputs, losses = self.module(inputs, targets)
                if self.neuron_paths is None:
                    self.neuron_paths = probe.paths
                    report_execution(self.execution)
                self._check_outputs(outputs, self.train_set, where)
                loss = self._total_loss(losses, epoch, step)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.method.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            n = targets.shape[0]
            seen += n
            correct += (outputs.detach().argmax(-1) == targets).sum().item()
            for name, value in [("loss", loss), *((f"loss/{k}", v) for k, v in losses.items())]:
                sums[name] = sums.get(name, 0.0) + value.detach().item() * n
        batches.close()
        lr = self.optimizer.param_groups[0]["lr"]             # the rate this epoch trained with
        if self.scheduler is not None:
            self.scheduler.step()
        totals = self._all_reduce([seen, correct, *sums.values()])
        seen, correct, values = totals[0], totals[1], totals[2:]
        record = {"epoch": epoch, **{k: v / seen for k, v in zip(sums, values)}, "train_acc": 100.0 * correct / seen,
                  "lr": lr, "time_s": time.perf_counter() - start}
        return record

    @staticmethod
    def _check_inputs(inputs, where: str) -> None:
        """Stop with :class:`NonFiniteLossError` naming the batch when any input value is NaN or infinite."""
        tensors = [t for t in (inputs.values() if isinstance(inputs, dict) else (inputs,)) if t.is_floating_point()]
        if all(bool(torch.isfinite(t).all()) for t in tensors):
            return
        bad = sum(int((~torch.isfinite(t)).sum()) for t in tensors)
        raise NonFiniteLossError(f"{bad} NaN or infinite input value(s) in {where}; training stopped before the "
                                 "weights changed. Clean the data set (or drop those samples) and train again.")

    @staticmethod
    def _check_layout(inputs, dataset: Dataset) -> None:
        """Refuse a batch of a time-major data set that arrives batch-major ``[N, T, ...]``: always when the data set
        has no collate function (the default one stacks samples along the first axis, whatever ``N`` and ``T``), and
        wherever the shape tells the two apart otherwise."""
        info = _info(dataset)
        if not isinstance(inputs, torch.Tensor) or info is None or not info.time_major:
            return
        steps, rest = info.sample_shape[0], tuple(info.sample_shape[1:])
        time_major = inputs.dim() == len(rest) + 2 and inputs.shape[0] == steps and tuple(inputs.shape[2:]) == rest
        batch_major = tuple(inputs.shape[1:]) == tuple(info.sample_shape)
        if batch_major and (collate_fn_for(dataset) is None or not time_major):
            raise ValueError(f"a batch of {info.name} arrived batch-major {tuple(inputs.shape)} = [N, T, ...]; SNN "
                             "inputs are time-major [T, N, ...]: batch with the data set's collate_fn "
                             "(snnlab.train.collate_fn_for) or transpose(0, 1)")

    def _check_targets(self, targets: torch.Tensor, dataset: Dataset, where: str) -> None:
        """Refuse integer labels outside ``[0, num_classes)`` of the data set (the method's declared
        ``ignore_index`` aside), naming the batch: cross entropy would fail on some and silently skip others."""
        info = _info(dataset)
        if info is None or targets.is_floating_point() or targets.numel() == 0:
            return
        classes = info.num_classes
        bad = (targets < 0) | (targets >= classes)
        ignore = getattr(self.method, "ignore_index", None)
        if ignore is not None:
            bad &= targets != ignore
        if bool(bad.any()):
            values = sorted(set(targets[bad].tolist()))[:5]
            raise ValueError(f"{where}: label(s) {values} outside the {classes} classes of {info.name} (0 to "
                             f"{classes - 1}); fix the data set's labels or its num_classes")

    @staticmethod
    def _check_outputs(outputs: torch.Tensor, dataset: Dataset, where: str) -> None:
        """Refuse class scores ``[..., C]`` whose ``C`` is not the data set's number of classes."""
        info = _info(dataset)
        if info is not None and isinstance(outputs, torch.Tensor) and outputs.shape[-1] != info.num_classes:
            raise ValueError(f"{where}: the model gives {outputs.shape[-1]} scores per sample, but {info.name} has "
                             f"{info.num_classes} classes; build the model with num_classes={info.num_classes}")

    def _total_loss(self, losses: dict[str, torch.Tensor], epoch: int, step: int) -> torch.Tensor:
        if not losses:
            raise ValueError(f"{type(self.method).__name__}.forward returned no loss terms")
        bad = {k: v.item() for k, v in losses.items() if not torch.isfinite(v).all()}
        if bad:
            terms = ", ".join(f"{k}={v}" for k, v in losses.items())
            raise NonFiniteLossError(
                f"non-finite loss at epoch {epoch}, step {step}: {sorted(bad)} ({terms}). Training stopped; "
                "try a lower learning rate (config.lr), gradient clipping (config.grad_clip), amp=False, "
                "or check the inputs for NaN/inf."
            )
        return sum(losses.values())

    def _all_reduce(self, values: list[float]) -> list[float]:
        if not self.dist.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    @torch.no_grad()
    def evaluate(self, dataset: Dataset) -> float:
        """Top-1 accuracy (%) of ``method.predict`` on ``dataset`` (summed across ranks when distributed); an empty
        ``dataset`` is refused (its accuracy is undefined, not 0)."""
        if len(dataset) == 0:
            raise ValueError("cannot evaluate on an empty data set: check its options (split, limits, condition "
                             "filter)")
        self.method.eval()
        correct = total = 0
        for step, batch in enumerate(self._eval_loader(dataset)):
            inputs, targets = self._batch_to_device(batch)
            where = f"evaluation batch {step}"
            self._check_inputs(inputs, where)
            self._check_layout(inputs, dataset)
            self._check_targets(targets, dataset, where)
            with torch.autocast(self.device.type, enabled=self.use_amp):
                scores = self.method.predict(inputs)
            self._check_outputs(scores, dataset, where)
            correct += (scores.argmax(-1) == targets).sum().item()
            total += targets.shape[0]
        total, correct = self._all_reduce([total, correct])
        return 100.0 * correct / total

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def save_checkpoint(self, path: str | os.PathLike, epoch: int) -> None:
        """Write the full training state after ``epoch`` atomically."""
        atomic_torch_save({
            "epoch": epoch,
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "history": self.history,
            "config": asdict(self.config),
        }, path)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore the training state written by :meth:`save_checkpoint`; training resumes at the next epoch."""
        state = _read_checkpoint(path, self.device)
        if not 0 <= state["epoch"] <= self.config.epochs:
            raise ValueError(f"checkpoint {path} is at epoch {state['epoch']}, outside 0 to config.epochs="
                             f"{self.config.epochs}; delete it to start a new run")
        current = asdict(self.config)
        changed = [f"{key}: {state['config'].get(key)!r} in the checkpoint, {value!r} now"
                   for key, value in current.items() if key not in RUN_OPTIONS and state["config"].get(key) != value]
        if changed:
            raise ValueError(f"checkpoint {path} was written with another configuration ({'; '.join(changed)}); "
                             "resume with the same settings, or delete the checkpoint to start a new run")
        try:
            self.method.load_state_dict(state["method"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state["scheduler"] is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"checkpoint {path} does not fit this model and optimizer ({' '.join(str(err).split())[:300]}"
                             "); delete it to start a new run") from err
        self.history = list(state["history"])
        self.start_epoch = state["epoch"] + 1


_CHECKPOINT_KEYS = {"epoch": int, "method": dict, "optimizer": dict, "scaler": dict, "history": list, "config": dict}


def _first_line(err: BaseException) -> str:
    """The first line of an error's message, or its class name when it has none."""
    return (str(err).splitlines() or [type(err).__name__])[0]


def _read_checkpoint(path: str | os.PathLike, device: torch.device) -> dict:
    """A checkpoint's state, loaded with ``weights_only=True`` (tensors and plain values only: a checkpoint cannot
    run code); a one-line ``ValueError`` naming the file when it is unreadable, empty or not of the shape
    :meth:`Trainer.save_checkpoint` writes."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError) as err:
        raise ValueError(f"checkpoint {path} cannot be read as a snnlab checkpoint (tensors and plain values "
                         f"only): {_first_line(err)}. Delete it to start a new run.") from err
    wrong = ([] if isinstance(state, dict) else ["it holds a " + type(state).__name__]) or [
        f"{key} is {type(state.get(key)).__name__}, not {kind.__name__}" for key, kind in _CHECKPOINT_KEYS.items()
        if not isinstance(state.get(key), kind) or (kind is int and isinstance(state.get(key), bool))]
    if wrong:
        raise ValueError(f"checkpoint {path} is not a snnlab checkpoint ({'; '.join(wrong)}); delete it to start a new "
                         "run")
    return state


def tested_epochs(epochs: int, eval_every: int = 1) -> list[int]:
    """The epochs after which :class:`Trainer` tests: every ``eval_every``-th and the last (the x-axis of a
    :func:`test_curve`)."""
    return [epoch for epoch in range(1, epochs + 1) if epoch % eval_every == 0 or epoch == epochs]


def test_curve(history: list[dict]) -> list[float]:
    """Test accuracy (%) of every tested epoch of ``history`` (all of them unless ``eval_every`` > 1)."""
    return [record["test_acc"] for record in history if "test_acc" in record]


def final_accuracy(history: list[dict]) -> float:
    """The last epoch's test accuracy (%), the number reproductions report."""
    if not history or "test_acc" not in history[-1]:
        raise ValueError("history has no test accuracy: pass a test_set to the Trainer")
    return history[-1]["test_acc"]

