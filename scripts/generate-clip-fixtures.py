#!/usr/bin/python3
"""torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (PyTorch 1.13) on dense and sparse embedding
gradients: the total norm and the clipped gradients, for test/clip-grad.test.ts (so CI needs no
torch). Writes test/fixtures/clip-grad.json. Run: /usr/bin/python3 scripts/generate-clip-fixtures.py

torch 1.13 computes the norm of a sparse gradient (coalesced) but leaves the sparse gradient itself
unscaled (grad.detach().mul_() on a sparse tensor writes to a copy); the expected sparse values here
are what the function means: each entry times torch's clip coefficient, computed with torch's own
ops from torch's total norm. With norm_type inf torch's max() refuses a sparse tensor, so that total
is taken from the gradient made dense (the same values as the coalesced rows, and zeros).
"""
import json
import math
import os

import torch

torch.manual_seed(13)


def dense_layer(rows, dim, scale):
    grad = (torch.randn(rows, dim) * scale).float()
    return {'rows': rows, 'dim': dim, 'sparse': False, 'grad': grad}


def sparse_layer(rows, dim, indices, scale):
    values = (torch.randn(len(indices), dim) * scale).float()
    return {'rows': rows, 'dim': dim, 'sparse': True, 'indices': indices, 'values': values}


def parameter(layer):
    p = torch.nn.Parameter(torch.zeros(layer['rows'], layer['dim']))
    if layer['sparse']:
        p.grad = torch.sparse_coo_tensor(torch.tensor([layer['indices']]), layer['values'].clone(), (layer['rows'], layer['dim']))
    else:
        p.grad = layer['grad'].clone()
    return p


def clip_norm_case(name, layers, max_norm, norm_type):
    params = [parameter(layer) for layer in layers]
    if norm_type == math.inf and any(layer['sparse'] for layer in layers):
        dense = [torch.nn.Parameter(torch.zeros_like(p)) for p in params]
        for d, p in zip(dense, params):
            d.grad = p.grad.to_dense() if p.grad.is_sparse else p.grad.clone()
        total = torch.nn.utils.clip_grad_norm_(dense, max_norm, norm_type=norm_type)
        params = dense
    else:
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    out = []
    for layer, p in zip(layers, params):
        if layer['sparse']:
            out.append(layer['values'].mul(coef).flatten().tolist())
        else:
            out.append(p.grad.flatten().tolist())
    return {'name': name, 'kind': 'norm', 'maxNorm': max_norm, 'normType': 'Infinity' if norm_type == math.inf else norm_type,
            'layers': [describe(layer) for layer in layers], 'total': total.item(), 'clipped': out}


def clip_value_case(name, layers, clip_value):
    params = [parameter(layer) for layer in layers]
    torch.nn.utils.clip_grad_value_(params, clip_value)
    return {'name': name, 'kind': 'value', 'clipValue': clip_value, 'layers': [describe(layer) for layer in layers],
            'clipped': [p.grad.flatten().tolist() for p in params]}


def describe(layer):
    out = {'rows': layer['rows'], 'dim': layer['dim'], 'sparse': layer['sparse']}
    if layer['sparse']:
        out.update(indices=layer['indices'], values=layer['values'].flatten().tolist())
    else:
        out.update(grad=layer['grad'].flatten().tolist())
    return out


def main():
    a = dense_layer(7, 5, 0.3)
    b = dense_layer(3, 16, 2.0)
    c = dense_layer(30, 32, 0.01)
    s = sparse_layer(9, 4, [3, 0, 3, 7, 3, 8, 0], 1.5)
    t = sparse_layer(50, 8, list(range(49, -1, -3)), 0.2)
    cases = []
    for p in (2.0, 1.0, math.inf, 3.0, 0.5):
        cases.append(clip_norm_case(f'dense, two layers, p={p}', [a, b], 1.0, p))
        cases.append(clip_norm_case(f'dense and sparse (duplicate rows), p={p}', [s, a, t], 0.5, p))
    cases.append(clip_norm_case('large dense gradient', [c], 0.05, 2.0))
    cases.append(clip_norm_case('maxNorm above the norm: unchanged', [a, b], 1e6, 2.0))
    cases.append(clip_norm_case('maxNorm 0', [a], 0.0, 2.0))
    cases.append(clip_norm_case('one sparse layer', [s], 2.0, 2.0))
    cases.append(clip_value_case('clip value', [a, b], 0.25))
    cases.append(clip_value_case('clip value 0', [a], 0.0))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, 'test', 'fixtures', 'clip-grad.json')
    with open(path, 'w') as f:
        json.dump({'torch': torch.__version__, 'cases': cases}, f)
        f.write('\n')
    print(f'wrote {path}: {len(cases)} cases')


if __name__ == '__main__':
    main()
