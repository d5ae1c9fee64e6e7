"""Worker for the 2-process DDP test (launched by torchrun); writes report.json into the folder given as argv[1]."""
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import tiny_images  # noqa: E402

from snnlab.methods import TET  # noqa: E402
from snnlab.models import SmallCNN  # noqa: E402
from snnlab.reproducibility import seed_everything  # noqa: E402
from snnlab.train import TrainConfig, Trainer  # noqa: E402

out = Path(sys.argv[1])
train_set, test_set = tiny_images.__wrapped__()
seed_everything(0)
model = SmallCNN(num_classes=4, in_channels=1, width=4, neuron="tet")
trainer = Trainer(TET(model, T=2), train_set, test_set,
                  TrainConfig(epochs=3, batch_size=8, lr=1e-2, progress=False, checkpoint_dir=str(out / "ckpt")))
seen = []
original = trainer._train_loader
trainer._train_loader = lambda epoch: (seen.append(len(original(epoch).sampler)), original(epoch))[1]
history = trainer.fit()
flat = torch.cat([p.detach().flatten() for p in trainer.method.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(trainer.dist.world_size)]
dist.all_gather(gathered, flat)
counts = [torch.zeros(1) for _ in range(trainer.dist.world_size)]
dist.all_gather(counts, torch.tensor([float(seen[0])]))
ckpts = [torch.zeros(1) for _ in range(trainer.dist.world_size)]
dist.all_gather(ckpts, torch.tensor([float(trainer.is_main)]))
if trainer.is_main:
    (out / "report.json").write_text(json.dumps({
        "world_size": trainer.dist.world_size,
        "params_equal_across_ranks": all(torch.equal(gathered[0], g) for g in gathered[1:]),
        "samples_per_rank": [int(c.item()) for c in counts],
        "only_rank0_wrote": sum(c.item() for c in ckpts) == 1,
        "history": history,
    }))
dist.destroy_process_group()
