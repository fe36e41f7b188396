"""Forward+backward time of three exact forms of the Sudoku peer attention (benchmarks/sudoku_search/RESULTS.md).

    .venv/bin/python benchmarks/sudoku_search/attention_variants.py

Batch 64, 4 heads of 16, 81 cells: PyTorch SDPA with the boolean peer mask (what the model runs), a plain
softmax(q k^T / sqrt(d) + bias) v, and a row/column/box split (three 9-key attentions, duplicates masked, one
softmax over the 27 scores), each eager and under torch.compile; prints the largest difference from SDPA first.
"""
import time, torch, torch.nn.functional as F
from hrmkit.models.attention import sudoku_peer_mask
torch.manual_seed(0)
B,H,L,d=64,4,81,16
mask=sudoku_peer_mask(0)
def sdpa(q,k,v): return F.scaled_dot_product_attention(q,k,v,attn_mask=mask)
bias=torch.zeros(L,L).masked_fill(~mask,float('-inf'))
def math2(q,k,v):
    return ((q@k.transpose(-1,-2))*(d**-0.5)+bias).softmax(-1)@v
cell=torch.arange(81); r,c=cell//9,cell%9; bx=3*(r//3)+c//3
# duplicates: column group excludes self; box group excludes same row or same col
colpos=torch.arange(9)  # key in col group = row index rk
dup_c = (colpos[None,:]==r[:,None])                     # (81,9)
# box group key j: position within box (ir,ic) -> row = 3*(br)+j//3, col=3*bc+j%3
j=torch.arange(9); kr=3*(r[:,None]//3)+j[None,:]//3; kc=3*(c[:,None]//3)+j[None,:]%3
dup_b=(kr==r[:,None])|(kc==c[:,None])
bias27=torch.cat([torch.zeros(81,9),torch.zeros(81,9).masked_fill(dup_c,float('-inf')),torch.zeros(81,9).masked_fill(dup_b,float('-inf'))],1)
def to_box(x):  # (B,H,81,D) -> (B,H,9box,9pos,D)
    B_,H_,_,D=x.shape
    return x.view(B_,H_,3,3,3,3,D).permute(0,1,2,4,3,5,6).reshape(B_,H_,9,9,D)
def from_box(x):  # (B,H,9box,9pos,D) -> (B,H,81,D)
    B_,H_,_,_,D=x.shape
    return x.view(B_,H_,3,3,3,3,D).permute(0,1,2,4,3,5,6).reshape(B_,H_,81,D)
def rcb(q,k,v):
    B_,H_=q.shape[:2]; s=d**-0.5
    qr,kr_,vr=(t.view(B_,H_,9,9,d) for t in (q,k,v))
    qc,kc_,vc=(t.transpose(2,3) for t in (qr,kr_,vr))
    qb,kb,vb=(to_box(t) for t in (q,k,v))
    sr=(qr@kr_.transpose(-1,-2)).reshape(B_,H_,81,9)
    sc=(qc@kc_.transpose(-1,-2)).transpose(2,3).reshape(B_,H_,81,9)
    sb=from_box(qb@kb.transpose(-1,-2))
    p=(torch.cat([sr,sc,sb],-1)*s+bias27).softmax(-1)
    pr,pc,pb=p.split(9,-1)
    out=(pr.reshape(B_,H_,9,9,9)@vr).reshape(B_,H_,81,d)
    out=out+(pc.reshape(B_,H_,9,9,9).transpose(2,3)@vc).transpose(2,3).reshape(B_,H_,81,d)
    out=out+from_box(to_box(pb)@vb)
    return out
q,k,v=(torch.randn(B,H,L,d) for _ in range(3))
print('diff rcb', (sdpa(q,k,v)-rcb(q,k,v)).abs().max().item())
def bench(f):
    q,k,v=(torch.randn(B,H,L,d,requires_grad=True) for _ in range(3))
    def run(): f(q,k,v).sum().backward()
    for _ in range(5): run()
    ts=[]
    for _ in range(5):
        t=time.perf_counter()
        for _ in range(20): run()
        ts.append((time.perf_counter()-t)/20*1e3)
    return sorted(ts)[2]
for name,f in [('sdpa',sdpa),('math2',math2),('rcb',rcb),('c_sdpa',torch.compile(sdpa)),('c_math2',torch.compile(math2)),('c_rcb',torch.compile(rcb))]:
    print(name, f'fwd+bwd {bench(f):.2f} ms', flush=True)
