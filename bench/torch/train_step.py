# The training step of bench/step-vs-torch.mjs in PyTorch (torch.nn.Embedding(N, 64, sparse=True), batch
# 16,384 uniform int64 ids, 8 batches rotated, 1 thread): median µs per step of 9 rounds of 16 steps.
# Run: /usr/bin/python3 bench/torch/train_step.py [SGD,Adagrad,SparseAdam]  (needs Debian python3-torch)
import torch, time, statistics, sys
torch.set_num_threads(1)
D,B=64,16384
sel = sys.argv[1].split(',') if len(sys.argv)>1 else ['SGD','Adagrad','SparseAdam']
for N in (10000, 1000000):
    idx=[torch.randint(0,N,(B,)) for _ in range(8)]
    g=(torch.rand(B,D)-0.5)*0.01
    for name,cls in (('SGD',torch.optim.SGD),('Adagrad',torch.optim.Adagrad),('SparseAdam',torch.optim.SparseAdam)):
        if name not in sel: continue
        e=torch.nn.Embedding(N,D,sparse=True); opt=cls(e.parameters(),lr=1e-4)
        def run(i):
            opt.zero_grad(set_to_none=True); y=e(idx[i&7]); y.backward(g); opt.step()
        for i in range(16): run(i)
        ts=[]
        for r in range(9):
            t0=time.perf_counter()
            for i in range(16): run(i)
            ts.append((time.perf_counter()-t0)/16*1e6)
        print(N,name,'torch',round(statistics.median(ts)))
