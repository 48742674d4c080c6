#!/usr/bin/python3
"""Learning rates of torch.optim.lr_scheduler (PyTorch 1.13) after construction and after each of
25 steps, for every scheduler of src/lr-scheduler.ts and a few option sets each, with the momentum
(SGD) or beta1 (Adam) where a scheduler cycles it. Writes test/fixtures/lr-schedulers.json, read by
test/lr-scheduler.test.ts (so CI needs no torch). Run: /usr/bin/python3 scripts/generate-scheduler-fixtures.py

Options are written as the TypeScript API names them (camelCase); functions are named from LAMBDAS,
which the test defines the same way.
"""
import json
import os
import re
import warnings

import torch
from torch.optim import lr_scheduler

warnings.filterwarnings('ignore')
STEPS = 25

LAMBDAS = {
    'pow095': lambda e: 0.95 ** e,
    'warmup5': lambda e: min(1.0, (e + 1) / 5),
    'const09': lambda e: 0.9,
    'pow097': lambda x: 0.97 ** x,
}

SPECIAL = {'tMax': 'T_max', 't0': 'T_0', 'tMult': 'T_mult'}


def snake(name):
    return SPECIAL.get(name) or re.sub(r'([A-Z])', lambda m: '_' + m.group(1).lower(), name)


def torch_options(options):
    out = {}
    for key, value in options.items():
        if key in ('lrLambda', 'scaleFn'):
            value = LAMBDAS[value]
        out[snake(key)] = value
    return out


def make_optimizer(spec):
    param = torch.nn.Parameter(torch.zeros(3))
    kind = spec['kind']
    options = torch_options(spec.get('options', {}))
    return {'SGD': torch.optim.SGD, 'Adam': torch.optim.Adam, 'Adagrad': torch.optim.Adagrad}[kind]([param], **options)


def make_scheduler(optimizer, name, options):
    return getattr(lr_scheduler, name)(optimizer, **torch_options(options))


def momentum_of(optimizer):
    group = optimizer.param_groups[0]
    if 'betas' in group:
        return group['betas'][0]
    return group.get('momentum')


def run(case):
    optimizer = make_optimizer(case['optimizer'])
    name = case['scheduler']
    if name in ('SequentialLR', 'ChainedScheduler'):
        subs = [make_scheduler(optimizer, s['scheduler'], s['options']) for s in case['schedulers']]
        if name == 'SequentialLR':
            scheduler = lr_scheduler.SequentialLR(optimizer, schedulers=subs, milestones=case['milestones'])
        else:
            scheduler = lr_scheduler.ChainedScheduler(subs)
    else:
        scheduler = make_scheduler(optimizer, name, case.get('options', {}))
    lrs = [optimizer.param_groups[0]['lr']]
    last = [scheduler.get_last_lr()[0] if name != 'ReduceLROnPlateau' else None]
    momentums = [momentum_of(optimizer)]
    for step in range(STEPS):
        optimizer.step()
        if name == 'ReduceLROnPlateau':
            scheduler.step(case['metrics'][step])
        else:
            scheduler.step()
        lrs.append(optimizer.param_groups[0]['lr'])
        last.append(scheduler._last_lr[0] if name == 'ReduceLROnPlateau' else scheduler.get_last_lr()[0])
        momentums.append(momentum_of(optimizer))
    result = dict(case)
    result.update(lrs=lrs, lastLr=last, momentums=momentums)
    return result


SGD = {'kind': 'SGD', 'options': {'lr': 0.1}}
SGD_MOMENTUM = {'kind': 'SGD', 'options': {'lr': 0.1, 'momentum': 0.9}}
ADAM = {'kind': 'Adam', 'options': {'lr': 0.01}}
ADAGRAD = {'kind': 'Adagrad', 'options': {'lr': 0.05}}

CASES = [
    {'name': 'LambdaLR power', 'scheduler': 'LambdaLR', 'optimizer': SGD, 'options': {'lrLambda': 'pow095'}},
    {'name': 'LambdaLR warm-up', 'scheduler': 'LambdaLR', 'optimizer': ADAM, 'options': {'lrLambda': 'warmup5'}},
    {'name': 'MultiplicativeLR', 'scheduler': 'MultiplicativeLR', 'optimizer': SGD, 'options': {'lrLambda': 'const09'}},
    {'name': 'StepLR', 'scheduler': 'StepLR', 'optimizer': SGD, 'options': {'stepSize': 3, 'gamma': 0.5}},
    {'name': 'StepLR default gamma', 'scheduler': 'StepLR', 'optimizer': ADAGRAD, 'options': {'stepSize': 4}},
    {'name': 'MultiStepLR repeated milestone', 'scheduler': 'MultiStepLR', 'optimizer': SGD, 'options': {'milestones': [12, 3, 7, 7], 'gamma': 0.3}},
    {'name': 'ConstantLR defaults', 'scheduler': 'ConstantLR', 'optimizer': SGD, 'options': {}},
    {'name': 'ConstantLR', 'scheduler': 'ConstantLR', 'optimizer': ADAM, 'options': {'factor': 0.5, 'totalIters': 4}},
    {'name': 'LinearLR defaults', 'scheduler': 'LinearLR', 'optimizer': SGD, 'options': {}},
    {'name': 'LinearLR', 'scheduler': 'LinearLR', 'optimizer': SGD, 'options': {'startFactor': 0.25, 'endFactor': 0.75, 'totalIters': 10}},
    {'name': 'ExponentialLR', 'scheduler': 'ExponentialLR', 'optimizer': SGD, 'options': {'gamma': 0.9}},
    {'name': 'PolynomialLR defaults', 'scheduler': 'PolynomialLR', 'optimizer': SGD, 'options': {}},
    {'name': 'PolynomialLR', 'scheduler': 'PolynomialLR', 'optimizer': ADAM, 'options': {'totalIters': 20, 'power': 2.0}},
    {'name': 'CosineAnnealingLR', 'scheduler': 'CosineAnnealingLR', 'optimizer': SGD, 'options': {'tMax': 10}},
    {'name': 'CosineAnnealingLR past 2 tMax', 'scheduler': 'CosineAnnealingLR', 'optimizer': SGD, 'options': {'tMax': 7, 'etaMin': 0.001}},
    {'name': 'CosineAnnealingWarmRestarts', 'scheduler': 'CosineAnnealingWarmRestarts', 'optimizer': SGD, 'options': {'t0': 5}},
    {'name': 'CosineAnnealingWarmRestarts tMult', 'scheduler': 'CosineAnnealingWarmRestarts', 'optimizer': ADAM, 'options': {'t0': 3, 'tMult': 2, 'etaMin': 0.001}},
    {'name': 'CyclicLR triangular', 'scheduler': 'CyclicLR', 'optimizer': SGD_MOMENTUM, 'options': {'baseLr': 0.01, 'maxLr': 0.1, 'stepSizeUp': 4}},
    {'name': 'CyclicLR triangular2', 'scheduler': 'CyclicLR', 'optimizer': SGD_MOMENTUM, 'options': {'baseLr': 0.01, 'maxLr': 0.1, 'stepSizeUp': 3, 'stepSizeDown': 5, 'mode': 'triangular2'}},
    {'name': 'CyclicLR exp_range', 'scheduler': 'CyclicLR', 'optimizer': SGD_MOMENTUM, 'options': {'baseLr': 0.001, 'maxLr': 0.01, 'stepSizeUp': 2, 'mode': 'exp_range', 'gamma': 0.9, 'baseMomentum': 0.7, 'maxMomentum': 0.95}},
    {'name': 'CyclicLR scaleFn by iterations, no momentum', 'scheduler': 'CyclicLR', 'optimizer': ADAGRAD, 'options': {'baseLr': 0.01, 'maxLr': 0.05, 'stepSizeUp': 3, 'scaleFn': 'pow097', 'scaleMode': 'iterations', 'cycleMomentum': False}},
    {'name': 'OneCycleLR SGD', 'scheduler': 'OneCycleLR', 'optimizer': SGD_MOMENTUM, 'options': {'maxLr': 0.1, 'totalSteps': 25}},
    {'name': 'OneCycleLR Adam three-phase linear', 'scheduler': 'OneCycleLR', 'optimizer': ADAM, 'options': {'maxLr': 0.02, 'epochs': 5, 'stepsPerEpoch': 5, 'annealStrategy': 'linear', 'threePhase': True}},
    {'name': 'OneCycleLR Adagrad no momentum', 'scheduler': 'OneCycleLR', 'optimizer': ADAGRAD, 'options': {'maxLr': 0.05, 'totalSteps': 30, 'pctStart': 0.25, 'cycleMomentum': False, 'divFactor': 10.0, 'finalDivFactor': 100.0}},
    {'name': 'SequentialLR constant then exponential', 'scheduler': 'SequentialLR', 'optimizer': SGD, 'milestones': [2],
     'schedulers': [{'scheduler': 'ConstantLR', 'options': {'factor': 0.1, 'totalIters': 2}}, {'scheduler': 'ExponentialLR', 'options': {'gamma': 0.9}}]},
    {'name': 'SequentialLR warm-up then cosine', 'scheduler': 'SequentialLR', 'optimizer': ADAM, 'milestones': [5],
     'schedulers': [{'scheduler': 'LinearLR', 'options': {'startFactor': 0.2, 'totalIters': 5}}, {'scheduler': 'CosineAnnealingLR', 'options': {'tMax': 20}}]},
    {'name': 'SequentialLR three', 'scheduler': 'SequentialLR', 'optimizer': SGD, 'milestones': [3, 10],
     'schedulers': [{'scheduler': 'ConstantLR', 'options': {'factor': 0.5, 'totalIters': 3}}, {'scheduler': 'StepLR', 'options': {'stepSize': 2, 'gamma': 0.8}},
                    {'scheduler': 'CosineAnnealingWarmRestarts', 'options': {'t0': 4}}]},
    {'name': 'ChainedScheduler', 'scheduler': 'ChainedScheduler', 'optimizer': SGD,
     'schedulers': [{'scheduler': 'ConstantLR', 'options': {'factor': 0.1, 'totalIters': 2}}, {'scheduler': 'ExponentialLR', 'options': {'gamma': 0.9}}]},
    {'name': 'ReduceLROnPlateau min', 'scheduler': 'ReduceLROnPlateau', 'optimizer': SGD, 'options': {'patience': 2},
     'metrics': [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69999, 0.6, 0.6, 0.6]},
    {'name': 'ReduceLROnPlateau max abs cooldown', 'scheduler': 'ReduceLROnPlateau', 'optimizer': ADAM,
     'options': {'mode': 'max', 'patience': 1, 'cooldown': 2, 'factor': 0.5, 'thresholdMode': 'abs', 'threshold': 0.01, 'minLr': 0.004},
     'metrics': [0.1, 0.2, 0.205, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]},
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, 'test', 'fixtures', 'lr-schedulers.json')
    cases = [run(case) for case in CASES]
    with open(out, 'w') as f:
        json.dump({'torch': torch.__version__, 'steps': STEPS, 'cases': cases}, f, indent=1)
        f.write('\n')
    print(f'wrote {out}: {len(cases)} cases')


if __name__ == '__main__':
    main()
