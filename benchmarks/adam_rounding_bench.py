"""Adam-atan2 step on the paper-sudoku model's parameters (27.3M): torch rounding vs the kernel's rounding."""
import time, torch
from hrmkit.models import ModelConfig, build
from hrmkit.train.optim import AdamATan2
torch.manual_seed(0)
model = build(ModelConfig.from_name("paper-sudoku"))
params = [p for p in model.parameters() if p.requires_grad]
for p in params:
    p.grad = torch.randn_like(p) * 1e-3
n = sum(p.numel() for p in params)
opts = {r: AdamATan2(params, lr=1e-4, weight_decay=1.0, rounding=r) for r in ("torch", "kernel")}
times = {r: [] for r in opts}
for rnd in range(3):
    for r, opt in opts.items():
        t = time.process_time(); opt.step(); times[r].append(time.process_time() - t)
print(f"{n} parameters, threads {torch.get_num_threads()}; process CPU seconds per step (best of 3 interleaved):")
for r, ts in times.items():
    print(f"  {r}: {min(ts):.3f}")
