"""The Trainer: learning happens, determinism, resume equivalence, NaN guard, DDP on CPU."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from snnlab.methods import TET, MeanOutputCE
from snnlab.models import SmallCNN
from snnlab.reproducibility import seed_everything
from snnlab.train import NonFiniteLossError, TrainConfig, Trainer


def make_trainer(data, method_cls=TET, **config):
    seed_everything(config.get("seed", 0))
    model = SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
    cfg = TrainConfig(**{"epochs": 3, "batch_size": 8, "lr": 3e-2, "progress": False, **config})
    return Trainer(method_cls(model, T=2), data[0], data[1], cfg)


def test_learning_happens_and_every_loss_term_is_logged(tiny_images):
    history = make_trainer(tiny_images, epochs=4).fit()
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert {"loss", "loss/ce", "loss/mse", "train_acc", "test_acc", "lr", "time_s"} <= set(history[0])
    assert all(abs(r["loss"] - r["loss/ce"] - r["loss/mse"]) < 1e-6 for r in history)
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["test_acc"] >= 90.0  # chance is 25 %


def test_same_seed_same_metrics_different_seed_differs(tiny_images):
    a = make_trainer(tiny_images, seed=3).fit()
    b = make_trainer(tiny_images, seed=3).fit()
    c = make_trainer(tiny_images, seed=4).fit()
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("encoding", ["direct", "poisson"])  # poisson: the resumed run must redraw the same spikes
def test_resume_from_checkpoint_matches_uninterrupted_run(tiny_images, tmp_path, encoding):
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    full = make_trainer(tiny_images, epochs=4, checkpoint_dir=str(tmp_path / "full"))
    full.method.encoding = encoding
    expected = strip(full.fit())

    def stop_after_two(trainer, record):
        if record["epoch"] == 2:
            raise Interrupt

    interrupted = make_trainer(tiny_images, epochs=4, checkpoint_dir=str(tmp_path / "cut"))
    interrupted.method.encoding = encoding
    interrupted.callbacks = [stop_after_two]
    with pytest.raises(Interrupt):
        interrupted.fit()
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["epoch"] == 2
    resumed = make_trainer(tiny_images, epochs=4, checkpoint_dir=str(tmp_path / "cut"), resume=True, seed=0)
    resumed.method.encoding = encoding
    assert resumed.start_epoch == 3
    assert strip(resumed.fit()) == expected
    assert not list((tmp_path / "cut").glob("*.tmp"))  # atomic writes leave no temporary files


def test_resume_with_a_different_configuration_is_refused_with_the_differences(tiny_images, tmp_path):
    make_trainer(tiny_images, epochs=1, checkpoint_dir=str(tmp_path)).fit()
    with pytest.raises(ValueError, match="epochs: 1 in the checkpoint, 5 now"):
        make_trainer(tiny_images, epochs=5, checkpoint_dir=str(tmp_path), resume=True)
    with pytest.raises(ValueError, match=r"lr: 0\.03 in the checkpoint, 0\.5 now; seed: 0 in the checkpoint, 3 now"):
        make_trainer(tiny_images, epochs=1, checkpoint_dir=str(tmp_path), resume=True, lr=0.5, seed=3)
    # run options (progress, workers, the folder itself) are not part of what was trained
    assert make_trainer(tiny_images, epochs=1, checkpoint_dir=str(tmp_path), resume=True, progress=True).start_epoch == 2


class Exploding(MeanOutputCE):
    def forward(self, inputs, targets):
        outputs, losses = super().forward(inputs, targets)
        return outputs, {**losses, "bad": losses["ce"] * float("nan")}


def test_non_finite_loss_stops_with_clear_message(tiny_images):
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step 0: \['bad'\].*learning rate"):
        make_trainer(tiny_images, method_cls=Exploding).fit()


def test_eval_every_tests_every_kth_epoch_and_the_last(tiny_images):
    from snnlab.train import test_curve
    history = make_trainer(tiny_images, epochs=5, eval_every=2).fit()
    assert [r["epoch"] for r in history if "test_acc" in r] == [2, 4, 5]
    assert test_curve(history) == [history[1]["test_acc"], history[3]["test_acc"], history[4]["test_acc"]]
    every = make_trainer(tiny_images, epochs=5).fit()
    assert test_curve(every)[-1] == history[-1]["test_acc"]          # testing does not change the training
    with pytest.raises(ValueError, match="eval_every must be >= 1"):
        TrainConfig(eval_every=0)


def test_config_errors():
    with pytest.raises(ValueError, match="unknown optimizer 'adma'"):
        TrainConfig(optimizer="adma")
    with pytest.raises(ValueError, match="checkpoint_dir"):
        TrainConfig(resume=True)


def test_method_without_trainable_parameters_is_rejected(tiny_images):
    model = SmallCNN(4, 1, width=4)
    model.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        Trainer(TET(model, T=2), tiny_images[0])


DDP_SCRIPT = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(DDP_SCRIPT),
           str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["world_size"] == 2
    assert report["params_equal_across_ranks"]  # DDP kept the replicas in sync
    assert report["samples_per_rank"] == [48, 48]  # each rank saw half of the 96 training samples
    assert report["history"][-1]["train_acc"] > report["history"][0]["train_acc"] or report["history"][-1]["test_acc"] >= 75
    assert (tmp_path / "ckpt" / "last.pt").exists()  # written by rank 0
    assert report["only_rank0_wrote"]
