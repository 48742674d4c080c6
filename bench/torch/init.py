# The PyTorch column of the `init` suite of `npm run bench` (bench/init.mjs runs this script as a
# child process; it is never a dependency: without `import torch` the benchmark says "not
# installed").
#
#   python3 bench/torch/init.py SPEC.json        prints one JSON object on stdout
#
# SPEC (written by bench/init.mjs): { "threads": [1, 2], "shapes": [ { "name", "rows", "dim",
# "minRuns", "maxRuns", "budgetMs" } ], "kinds": ["default", "normal", ...] }. For each shape,
# rounds as on the Node side: each round times every (kind, thread count) cell once, the
# order rotating from round to round, torch.set_num_threads(n) and gc.collect() untimed before each
# call; minRuns rounds, up to maxRuns for cells whose runs so far took under budgetMs in all.
# Reported: every run's milliseconds, results[shape][kind][n] = [ms, ...] (the Node side takes the
# median).
#
# Kinds, as a PyTorch user writes each (float32, the default dtype). The table is fresh memory in
# every call, as the Node constructor's is: torch.nn.Embedding allocates its weight; the init_
# functions are timed together with the torch.empty that allocates their tensor.
#   default        torch.nn.Embedding(N, D)                       (its reset_parameters: normal_, N(0, 1))
#   normal         torch.nn.init.normal_(torch.empty(N, D), std=0.01)
#   uniform        torch.nn.init.uniform_(torch.empty(N, D), -0.05, 0.05)
#   truncNormal    torch.nn.init.trunc_normal_(torch.empty(N, D), std=0.02)   (a=-2, b=2: absolute)
#   xavierUniform  torch.nn.init.xavier_uniform_(torch.empty(N, D))    (bound sqrt(6 / (N + D)))
#   zeros          torch.nn.init.zeros_(torch.empty(N, D))
#   constant       torch.nn.init.constant_(torch.empty(N, D), 0.5)
# Each result is dropped (del) before the next call: one table alive at a time.
import gc, json, sys, time

import torch

KINDS = {
    'default': lambda n, d: torch.nn.Embedding(n, d),
    'normal': lambda n, d: torch.nn.init.normal_(torch.empty(n, d), std=0.01),
    'uniform': lambda n, d: torch.nn.init.uniform_(torch.empty(n, d), -0.05, 0.05),
    'truncNormal': lambda n, d: torch.nn.init.trunc_normal_(torch.empty(n, d), std=0.02),
    'xavierUniform': lambda n, d: torch.nn.init.xavier_uniform_(torch.empty(n, d)),
    'zeros': lambda n, d: torch.nn.init.zeros_(torch.empty(n, d)),
    'constant': lambda n, d: torch.nn.init.constant_(torch.empty(n, d), 0.5),
}


def main():
    spec = json.load(open(sys.argv[1]))
    kinds = spec['kinds']
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f'unknown kind(s) {unknown}')
    cells = [(k, n) for k in kinds for n in spec['threads']]
    # Warm-up: every kind at every thread count on a small table (code paths, thread pool).
    for k, n in cells:
        torch.set_num_threads(n)
        t = KINDS[k](256, 64)
        del t
    results = {}
    for shape in spec['shapes']:
        rows, dim = shape['rows'], shape['dim']
        times = {k: {str(n): [] for n in spec['threads']} for k in kinds}
        for r in range(shape['maxRuns']):
            active = [(k, n) for k, n in cells if r < shape['minRuns'] or sum(times[k][str(n)]) < shape['budgetMs']]
            if not active:
                break
            for j in range(len(active)):
                k, n = active[(r + j) % len(active)]
                torch.set_num_threads(n)
                gc.collect()
                t0 = time.perf_counter()
                t = KINDS[k](rows, dim)
                elapsed = time.perf_counter() - t0
                del t
                times[k][str(n)].append(elapsed * 1e3)
        results[shape['name']] = times
    json.dump({'torch': torch.__version__, 'results': results}, sys.stdout)


main()
