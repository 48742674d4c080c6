# The PyTorch column of the `dtype` suite of `npm run bench` (bench/dtype.mjs runs this script as a
# child process; it is never a dependency: without `import torch` the suite says "not installed").
#
#   python3 bench/torch/dtype.py SPEC.json        prints one JSON object on stdout
#
# SPEC (written by bench/dtype.mjs): { "rows", "dim", "threads": [1, 2], "sampleTargetMs",
# "minSamples", "maxSamples", "budgetMs", "batch", "lookup": FILE, "bags", "bagIndices": FILE,
# "bagOffsets": FILE, "bagCounts": [count per batch], "batches" }. The files hold the Node side's
# lookup batches, and its bag batches' indices and offsets (int32, little-endian, batch after
# batch), widened here to int64, torch's index type; calls rotate through all the batches.
#
# The table: rows × dim uniform values in [-1, 1) (values do not change the speed), float32; each
# other dtype made from it as a torch user makes it (timed, at torch's default thread count:
# setupSeconds), one at a time, dropped before the next:
#   float32   w               fwd F.embedding(idx, w)    bag F.embedding_bag(idx, w, offsets, mode='sum')
#   float16   w.half()        the same
#   bfloat16  w.bfloat16()    the same (1.13's CPU embedding_bag has no bfloat16: its error is reported)
#   int8      torch.ops.quantized.embedding_bag_byte_prepack(w)
#             bag embedding_bag_byte_rowwise_offsets(q, idx, offsets), mode sum
#             fwd the same op with bags of one (offsets 0, 1, ..., B - 1): torch has no lookup of
#                 a packed tensor (its quantized embedding_byte takes prepacked parameters)
#   int4      torch.ops.quantized.embedding_bag_4bit_prepack(w), embedding_bag_4bit_rowwise_offsets
# Each call at every thread count (torch.set_num_threads), measured as bench.py measures it.
import json, sys, time

import numpy as np
import torch

from bench import measure

F = torch.nn.functional
Q = torch.ops.quantized


def float_calls(w, lookups, bags, ones):
    return {
        'fwd': ('F.embedding(idx, w)', lambda i: F.embedding(lookups[i], w)),
        'bag': ("F.embedding_bag(idx, w, offsets, mode='sum')", lambda i: F.embedding_bag(bags[i][0], w, bags[i][1], mode='sum')),
    }


def quantized_calls(name):
    op = getattr(Q, name)

    def calls(q, lookups, bags, ones):
        return {
            'fwd': (f'{name}, bags of one', lambda i: op(q, lookups[i], ones, mode=0)),
            'bag': (f'{name}, mode sum', lambda i: op(q, bags[i][0], bags[i][1], mode=0)),
        }
    return calls


FORMS = [
    ('float32', lambda w: w, float_calls),
    ('float16', lambda w: w.half(), float_calls),
    ('bfloat16', lambda w: w.bfloat16(), float_calls),
    ('int8', Q.embedding_bag_byte_prepack, quantized_calls('embedding_bag_byte_rowwise_offsets')),
    ('int4', Q.embedding_bag_4bit_prepack, quantized_calls('embedding_bag_4bit_rowwise_offsets')),
]


def load(spec):
    batch = spec['batch']
    flat = np.fromfile(spec['lookup'], dtype='<i4')
    lookups = [torch.from_numpy(flat[b * batch:(b + 1) * batch].astype(np.int64)) for b in range(spec['batches'])]
    indices = np.fromfile(spec['bagIndices'], dtype='<i4')
    offsets = np.fromfile(spec['bagOffsets'], dtype='<i4')
    bags, start = [], 0
    for b, count in enumerate(spec['bagCounts']):
        bags.append((torch.from_numpy(indices[start:start + count].astype(np.int64)),
                     torch.from_numpy(offsets[b * spec['bags']:(b + 1) * spec['bags']].astype(np.int64))))
        start += count
    return lookups, bags, torch.arange(batch, dtype=torch.int64)


def main():
    spec = json.load(open(sys.argv[1]))
    lookups, bags, ones = load(spec)
    default_threads = torch.get_num_threads()
    setup, results, calls = {}, {'fwd': {}, 'bag': {}}, {'fwd': {}, 'bag': {}}
    t0 = time.perf_counter()
    torch.manual_seed(0)
    w = torch.empty(spec['rows'], spec['dim']).uniform_(-1, 1)
    setup['float32 (uniform_)'] = time.perf_counter() - t0
    with torch.no_grad():
        for dtype, make, make_calls in FORMS:
            torch.set_num_threads(default_threads)
            t0 = time.perf_counter()
            table = make(w)
            if dtype != 'float32':
                setup[dtype] = time.perf_counter() - t0
            for op, (text, call) in make_calls(table, lookups, bags, ones).items():
                calls[op][dtype] = text
                try:
                    call(0)
                except RuntimeError as e:
                    results[op][dtype] = {'error': str(e).split('\n')[0][:160]}
                    continue
                results[op][dtype] = {}
                for n in spec['threads']:
                    torch.set_num_threads(n)
                    results[op][dtype][str(n)] = measure(call, spec, spec['batches'])
            del table
    json.dump({'torch': torch.__version__, 'setupSeconds': setup, 'calls': calls, 'results': results}, sys.stdout)


main()
