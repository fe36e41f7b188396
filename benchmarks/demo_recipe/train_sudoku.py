"""HRM/TRM research trainer for the CPU Sudoku demo recipe (benchmarks/demo_recipe): data, model, ACT training with
deep supervision, evaluation, one JSON record per run. Self-contained (torch + numpy) so that recipe switches can be
tried before they exist in hrmkit.models; RESULTS.md lists what each switch means and which the recipe needs.

    python train_sudoku.py --name R1_recipe --threads 1 --budget 600 ...   # see run_cpu.sh, configs_sweep.txt

Budget clock: --clock cpu (default) counts process CPU seconds / threads, so a run's curve does not depend on what
else the (shared) machine runs; --budget_samples counts segment-samples instead (used for the H200 sweep).
Outputs: runs/<name>.json (config, curve, throughput, baselines) and cache/*.npz (generated puzzles) under the
current directory."""
import argparse, json, math, os, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from sudoku_gen import dataset as _dataset, one_pass, ROW, COL, BOX

p = argparse.ArgumentParser()
A = p.add_argument
A("--name", required=True); A("--threads", type=int, default=2); A("--seed", type=int, default=0)
A("--budget", type=float, default=180, help="training seconds (eval excluded)")
A("--eval_every", type=float, default=30); A("--n_test", type=int, default=500)
A("--n_train", type=int, default=20000); A("--g_lo", type=int, default=50); A("--g_hi", type=int, default=55)
A("--test_lo", type=int, default=-1); A("--test_hi", type=int, default=-1)
A("--curriculum", type=str, default="", help="e.g. '60,65:0.3' = givens 60-65 for first 30%% of budget")
A("--hidden", type=int, default=64); A("--heads", type=int, default=4); A("--expansion", type=float, default=4)
A("--H_layers", type=int, default=1); A("--L_layers", type=int, default=1)
A("--H_cycles", type=int, default=2); A("--L_cycles", type=int, default=2)
A("--shared", type=int, default=0, help="TRM: one network for H and L")
A("--mixer", default="attn", choices=["attn", "mlp_t"])
A("--pos", default="rope", choices=["rope", "learned", "rcb", "none"])
A("--attn_mask", default="none", choices=["none", "peers"], help="peers: attend only to same row/col/box (and self)")
A("--grad", default="one_step", choices=["one_step", "last_cycle", "full"])
A("--segments", type=int, default=8); A("--eval_segments", type=int, default=-1)
A("--act", default="hrm", choices=["hrm", "trm", "none"], help="halting: hrm (q_halt>q_cont, continue target), trm (q_halt>0), none (fixed segments)")
A("--explore", type=float, default=0.1)
A("--loss", default="stablemax", choices=["stablemax", "softmax"]); A("--loss_on", default="all", choices=["all", "blanks"])
A("--batch", type=int, default=64); A("--lr", type=float, default=1e-3); A("--warmup", type=int, default=2000)
A("--lr_min", type=float, default=1.0); A("--wd", type=float, default=1.0); A("--beta2", type=float, default=0.95)
A("--clock", default="cpu", choices=["cpu", "wall"], help="cpu: budget in process CPU seconds / threads (robust to other users)")
A("--device", default="cpu"); A("--budget_samples", type=int, default=0, help="if >0: budget and eval cadence in segment-samples (clock-free)")
A("--eval_every_samples", type=int, default=20000); A("--wall_cap", type=float, default=1e9)
A("--ema", type=float, default=0.0); A("--clip", type=float, default=0.0)
args = p.parse_args()
torch.set_num_threads(args.threads); torch.manual_seed(args.seed)
if args.eval_segments < 0: args.eval_segments = args.segments
if args.test_lo < 0: args.test_lo, args.test_hi = args.g_lo, args.g_hi
os.makedirs("runs", exist_ok=True)

# ---------------- data
def dataset(n, lo, hi, seed):
    f = f"cache/sd_{n}_{lo}_{hi}_{seed}.npz"
    if os.path.exists(f): d = np.load(f); return d["P"], d["S"]
    P, S = _dataset(n, lo, hi, seed); os.makedirs("cache", exist_ok=True); tmp = f"{f}.{os.getpid()}.tmp.npz"; np.savez(tmp, P=P, S=S); os.replace(tmp, f); return P, S
t0 = time.time()
Ptr, Str = dataset(args.n_train, args.g_lo, args.g_hi, seed=1000 + args.seed)
Pte, Ste = dataset(args.n_test, args.test_lo, args.test_hi, seed=999)  # fixed test set
cur = []
if args.curriculum:
    for part in args.curriculum.split(";"):
        g, frac = part.split(":"); lo, hi = map(int, g.split(","))
        n = int(args.n_train * float(frac))
        cur.append((float(frac), dataset(max(n, 2000), lo, hi, seed=2000 + lo)))
t_data = time.time() - t0
tok = lambda P: torch.from_numpy(P.astype(np.int64) + 1)  # 1 blank, 2..10 digits
dev = torch.device(args.device)
Xtr, Ytr, Xte, Yte = tok(Ptr).to(dev), tok(Str).to(dev), tok(Pte).to(dev), tok(Ste).to(dev)

# ---------------- model
def rms(x): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)
def lin(i, o):
    l = nn.Linear(i, o, bias=False); nn.init.trunc_normal_(l.weight, std=1 / math.sqrt(i), a=-2 / math.sqrt(i), b=2 / math.sqrt(i)); return l
class SwiGLU(nn.Module):
    def __init__(s, h, exp, mult=256):
        super().__init__(); inter = round(exp * h * 2 / 3); inter = -(-inter // mult) * mult
        s.gu, s.down = lin(h, 2 * inter), lin(inter, h)
    def forward(s, x):
        g, u = s.gu(x).chunk(2, -1); return s.down(F.silu(g) * u)
def rope_tables(L, d, theta=10000.0):
    inv = 1.0 / theta ** (torch.arange(0, d, 2).float() / d); f = torch.outer(torch.arange(L).float(), inv)
    e = torch.cat([f, f], -1); return e.cos(), e.sin()
def rot(x): x1, x2 = x.chunk(2, -1); return torch.cat([-x2, x1], -1)
PEER_MASK = torch.tensor([[ROW[i] == ROW[j] or COL[i] == COL[j] or BOX[i] == BOX[j] for j in range(81)] for i in range(81)])
class Block(nn.Module):
    def __init__(s, a):
        super().__init__(); h = a.hidden; s.a = a
        if a.mixer == "attn": s.qkv, s.o = lin(h, 3 * h), lin(h, h)
        else: s.tmix = SwiGLU(81, a.expansion, mult=1)
        s.mlp = SwiGLU(h, a.expansion)
    def forward(s, x, cs):
        B, L, h = x.shape
        if s.a.mixer == "attn":
            q, k, v = s.qkv(x).view(B, L, 3, s.a.heads, h // s.a.heads).permute(2, 0, 3, 1, 4)
            if cs is not None: c, sn = cs; q, k = q * c + rot(q) * sn, k * c + rot(k) * sn
            m = s.o(F.scaled_dot_product_attention(q, k, v, attn_mask=PEER_MASK.to(x.device) if s.a.attn_mask == "peers" else None).transpose(1, 2).reshape(B, L, h))
        else:
            m = s.tmix(x.transpose(1, 2)).transpose(1, 2)
        x = rms(x + m); return rms(x + s.mlp(x))
class Level(nn.Module):
    def __init__(s, a, n): super().__init__(); s.layers = nn.ModuleList([Block(a) for _ in range(n)])
    def forward(s, z, inj, cs):
        z = z + inj
        for l in s.layers: z = l(z, cs)
        return z
class HRM(nn.Module):
    def __init__(s, a):
        super().__init__(); h = a.hidden; s.a = a
        s.emb = nn.Embedding(11, h); nn.init.trunc_normal_(s.emb.weight, std=1 / math.sqrt(h))
        if a.pos == "learned": s.pos = nn.Parameter(torch.randn(81, h) / math.sqrt(h))
        if a.pos == "rcb":
            s.pr, s.pc, s.pb = [nn.Parameter(torch.randn(9, h) / math.sqrt(h)) for _ in range(3)]
            s.register_buffer("ir", torch.tensor(ROW)); s.register_buffer("ic", torch.tensor(COL)); s.register_buffer("ib", torch.tensor(BOX))
        if a.pos == "rope" and a.mixer == "attn": c, sn = rope_tables(81, h // a.heads); s.register_buffer("rc", c); s.register_buffer("rs", sn)
        s.L = Level(a, a.L_layers); s.H = s.L if a.shared else Level(a, a.H_layers)
        s.head = lin(h, 11); s.q = nn.Linear(h, 2); nn.init.zeros_(s.q.weight); nn.init.constant_(s.q.bias, -5)
        s.H_init = nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(h), std=1), requires_grad=False)
        s.L_init = nn.Parameter(torch.nn.init.trunc_normal_(torch.empty(h), std=1), requires_grad=False)
    def embed(s, x):
        e = s.emb(x)
        if s.a.pos == "learned": e = 0.707106781 * (e + s.pos)
        if s.a.pos == "rcb": e = 0.57735 * (e + s.pr[s.ir] + s.pc[s.ic]) + 0.57735 * s.pb[s.ib]
        return e * math.sqrt(s.a.hidden)
    def segment(s, zH, zL, x):
        a = s.a; xe = s.embed(x); cs = (s.rc, s.rs) if hasattr(s, "rc") else None
        n_grad_h = {"one_step": 0, "last_cycle": 1, "full": a.H_cycles}[a.grad]
        for hc in range(a.H_cycles):
            g = hc >= a.H_cycles - n_grad_h
            with torch.set_grad_enabled(g and torch.is_grad_enabled()):
                for lc in range(a.L_cycles):
                    last = hc == a.H_cycles - 1 and lc == a.L_cycles - 1
                    with torch.set_grad_enabled((g or last) and torch.is_grad_enabled()):
                        zL = s.L(zL, zH + xe, cs)
                with torch.set_grad_enabled((g or hc == a.H_cycles - 1) and torch.is_grad_enabled()):
                    zH = s.H(zH, zL, cs)
        q = s.q(zH[:, 0]).float()
        return zH, zL, s.head(zH), q[:, 0], q[:, 1]

def stablemax_ce(logits, y, mask):
    x = logits.double(); s = torch.where(x < 0, 1 / (1 - x.clamp(max=0)), x.clamp(min=0) + 1)  # clamps: no inf in the unused branch (its gradient would turn into NaN)
    lp = torch.log(s / s.sum(-1, keepdim=True))
    nll = -lp.gather(-1, y[..., None])[..., 0]; return nll
def ce(logits, y):
    if args.loss == "stablemax": return stablemax_ce(logits, y, None)
    return F.cross_entropy(logits.transpose(1, 2), y, reduction="none")

model = HRM(args).to(dev)
nparam = sum(p.numel() for p in model.parameters() if p.requires_grad)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, betas=(0.9, args.beta2), weight_decay=args.wd)
ema = None
if args.ema > 0:
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}

@torch.no_grad()
def evaluate(X, Y, bs=250):
    """exact: givens copied from the input, every blank right (the decoding of a blank-loss model);
    exact_q: the answer at the first segment whose q_halt > 0 (ACT halting at inference), else the last;
    exact_full: the raw output grid, givens included; blank: share of blank cells right (fixed segments)."""
    if ema is not None:
        cur_sd = {k: v.clone() for k, v in model.state_dict().items()}; model.load_state_dict(ema)
    model.eval(); n = len(X); ex = exq = exf = bl = nb = 0; seg_ex = np.zeros(args.eval_segments); halt_seg = 0
    for i in range(0, n, bs):
        x, y = X[i:i + bs], Y[i:i + bs]; B = len(x); blank = x == 1
        zH = model.H_init.expand(B, 81, -1).clone(); zL = model.L_init.expand(B, 81, -1).clone()
        done = torch.zeros(B, dtype=torch.bool, device=x.device); predq = None
        for sgi in range(args.eval_segments):
            zH, zL, lo, qh, _ = model.segment(zH, zL, x); raw = lo.argmax(-1); pred = torch.where(blank, raw, y)
            seg_ex[sgi] += (pred == y).all(1).sum().item()
            predq = pred.clone() if predq is None else torch.where(done[:, None], predq, pred)
            halt_seg += (~done).sum().item(); done |= qh > 0
        ex += (pred == y).all(1).sum().item(); exq += (predq == y).all(1).sum().item(); exf += (raw == y).all(1).sum().item()
        bl += ((pred == y) & blank).sum().item(); nb += blank.sum().item()
    model.train()
    if ema is not None: model.load_state_dict(cur_sd)
    return dict(exact=ex / n, exact_q=exq / n, exact_full=exf / n, blank=bl / nb, q_segments=halt_seg / n, seg=(seg_ex / n).round(3).tolist())

# ---------------- training: HRM carry (halted slots get the next puzzle)
B = args.batch; rng = np.random.default_rng(args.seed)
def pool_at(frac):
    acc = 0.0
    for f, (P, S) in cur:
        acc += f
        if frac < acc: return tok(P).to(dev), tok(S).to(dev)
    return Xtr, Ytr
def schedule(step, frac):
    if step < args.warmup: return args.lr * (step + 1) / args.warmup
    return args.lr * (args.lr_min + (1 - args.lr_min) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
x = torch.ones(B, 81, dtype=torch.long, device=dev); y = torch.ones(B, 81, dtype=torch.long, device=dev)
zH = model.H_init.expand(B, 81, -1).clone(); zL = model.L_init.expand(B, 81, -1).clone()
steps = torch.zeros(B, dtype=torch.long, device=dev); halted = torch.ones(B, dtype=torch.bool, device=dev)
clock = (lambda: time.process_time() / args.threads) if args.clock == 'cpu' else time.time
log = []; t_train = 0.0; wall_train = 0.0; next_eval = 0.0; step = 0; samples = 0
e0 = evaluate(Xte, Yte); ex0, bl0 = e0['exact'], e0['blank']
op = one_pass(Pte[:200]); op_ex = (op == Ste[:200]).all(1).mean(); blank = Pte[:200] == 0; op_bl = ((op == Ste[:200]) & blank).sum() / blank.sum()
print(f"{args.name}: params {nparam} data {t_data:.1f}s untrained ex {ex0:.3f} bl {bl0:.3f} one-pass ex {op_ex:.3f} bl {op_bl:.3f}", flush=True)
log.append(dict(t=0.0, step=0, samples=0, exact=ex0, blank=bl0))
t_start = time.time()
if args.budget_samples:
    args.budget = args.budget_samples; args.eval_every = args.eval_every_samples
while True:
    if args.budget_samples:
        t_train = step * B
        if time.time() - t_start > args.wall_cap and t_train < next_eval: next_eval = t_train; args.budget = t_train
    if t_train >= next_eval:
        e = evaluate(Xte, Yte); log.append(dict(t=round(t_train, 1), wall=round(wall_train, 1), step=step, samples=samples, **e))
        print(f"t {t_train:6.1f} wall {wall_train:6.1f} step {step:6d} samples {samples:7d} exact {e['exact']:.3f} exact_q {e['exact_q']:.3f} full {e['exact_full']:.3f} blank {e['blank']:.4f} qseg {e['q_segments']:.2f} seg {e['seg']}", flush=True)
        next_eval += args.eval_every
        if t_train >= args.budget: break
    tw = time.time(); ts = clock(); frac = t_train / args.budget
    for g in opt.param_groups: g["lr"] = schedule(step, frac)
    # reset halted slots with new puzzles
    if halted.any():
        PX, PY = pool_at(frac); idx = torch.from_numpy(rng.integers(0, len(PX), int(halted.sum()))).to(dev)
        x[halted], y[halted] = PX[idx], PY[idx]; samples += int(halted.sum())
        zH[halted] = model.H_init; zL[halted] = model.L_init; steps[halted] = 0
    zH, zL, logits, qh, qc = model.segment(zH, zL, x)
    mask = (x == 1) if args.loss_on == "blanks" else torch.ones_like(x, dtype=torch.bool)
    nll = ce(logits, y)
    seq_loss = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)
    correct = ((logits.argmax(-1) == y) | ~mask).all(1)
    loss = seq_loss.mean().float()
    steps += 1
    with torch.no_grad():
        is_last = steps >= args.segments
        if args.act == "none": halt = is_last.clone()
        elif args.act == "trm": halt = is_last | (qh > 0)
        else: halt = is_last | (qh > qc)
        if args.act != "none":
            explore = torch.rand(B, device=dev) < args.explore
            min_steps = torch.randint(2, args.segments + 1, (B,), device=dev) * explore
            halt = halt & (steps >= min_steps)
    if args.act != "none":
        qloss = F.binary_cross_entropy_with_logits(qh, correct.float())
        if args.act == "hrm":
            with torch.no_grad():
                _, _, _, nqh, nqc = model.segment(zH.detach(), zL.detach(), x)
                tgt = torch.sigmoid(torch.where(is_last, nqh, torch.maximum(nqh, nqc)))
            qloss = qloss + F.binary_cross_entropy_with_logits(qc, tgt)
        loss = loss + 0.5 * qloss
    opt.zero_grad(set_to_none=True); loss.backward()
    if args.clip: torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
    opt.step(); step += 1
    if ema is not None:
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.dtype.is_floating_point: ema[k].mul_(args.ema).add_(v, alpha=1 - args.ema)
    zH, zL = zH.detach(), zL.detach(); halted = halt
    t_train += clock() - ts; wall_train += time.time() - tw
res = dict(name=args.name, args=vars(args), params=nparam, data_s=t_data, steps=step, samples=samples,
           seg_samples_per_s=step * B / t_train, puzzles_per_s=samples / t_train, exact=log[-1]["exact"], exact_q=log[-1]["exact_q"], exact_full=log[-1]["exact_full"], blank=log[-1]["blank"],
           untrained=dict(exact=ex0, blank=bl0), one_pass=dict(exact=float(op_ex), blank=float(op_bl)), curve=log)
json.dump(res, open(f"runs/{args.name}.json", "w"))
print(f"DONE {args.name} exact {res['exact']:.3f} exact_q {res['exact_q']:.3f} blank {res['blank']:.3f} steps {step} seg-samples/s {res['seg_samples_per_s']:.0f}", flush=True)
