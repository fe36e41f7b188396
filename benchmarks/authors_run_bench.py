"""Adam-atan2 step time, rounding torch vs kernel: the optimiser step alone and the whole training step."""
import statistics, sys, time, torch
from hrmkit.models import ModelConfig, build
from hrmkit.models.losses import act_loss
from hrmkit.train.optim import AdamATan2
torch.set_num_threads(1)

def med(f, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

def bench(model_cfg, batch, n, full):
    out = {}
    for r in ("torch", "kernel", "torch", "kernel"):
        torch.manual_seed(0)
        model = build(model_cfg).train()
        opt = AdamATan2(model.parameters(), lr=1e-3, weight_decay=1.0, rounding=r)
        for p in model.parameters():
            p.grad = torch.randn_like(p) * 1e-3
        if not full:
            out.setdefault(r, []).append(med(opt.step, n))
            continue
        carry = [model.initial_carry(batch)]
        def step():
            carry[0], o = model(carry[0], batch)
            loss, _ = act_loss(carry[0], o)
            (loss * (1 / 16)).backward(); opt.step(); opt.zero_grad(set_to_none=True)
        step()
        out.setdefault(r, []).append(med(step, n))
    return {k: min(v) for k, v in out.items()}

tiny = ModelConfig.from_dict(dict(arch="hrm_act_v1", H_cycles=2, L_cycles=2, H_layers=1, L_layers=1, hidden_size=64,
                                  num_heads=2, expansion=4, halt_max_steps=4, halt_exploration_prob=0.0,
                                  forward_dtype="float32"))
g = torch.Generator().manual_seed(0)
batch = {"inputs": torch.randint(1, 11, (16, 81), generator=g, dtype=torch.int32),
         "labels": torch.randint(2, 11, (16, 81), generator=g, dtype=torch.int32),
         "puzzle_identifiers": torch.zeros(16, dtype=torch.int32)}
print("train-tiny model (132,610 params), full step, batch 16:", bench(tiny, batch, 40, True))
print("train-tiny model, optimiser step only:", bench(tiny, batch, 200, False))
paper = ModelConfig.from_name("paper-sudoku")
print("paper-sudoku model (27.3M params), optimiser step only:", bench(paper, batch, 5, False))
