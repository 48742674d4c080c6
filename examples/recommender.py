# The recommender of examples/recommender.mjs in PyTorch, for `npm run example -- --compare-torch`:
# the same model (user and item embeddings, a dot-product score, per-user and per-item biases), the
# same data, the same initial tables, the same batches in the same order, the same optimizer
# (torch.optim.Adagrad on sparse embeddings) and epochs. The JavaScript example writes everything
# this script reads as .npy files (with nn-embedding's saveNpy) into DIR, then runs
#
#   python3 examples/recommender.py DIR '{"lr": 0.3, "epochs": 8, "batch": 1024, "trainMean": 3.5, "threads": 1, "schedule": "warmup-cosine", "totalSteps": 7032}'
#
# and reads one JSON line from stdout: { "torch", "trainSeconds", "rmse", "corr", "epochs": [...] }.
# Written the way a PyTorch user writes it: autograd computes the gradients of the batch's mean
# squared error; zero_grad(), backward(), step(). Only the training loop is timed (evaluation of the
# held-out ratings after each epoch is not), as in the JavaScript example.
import json, sys, time

import numpy as np
import torch

directory, settings = sys.argv[1], json.loads(sys.argv[2])
torch.set_num_threads(settings['threads'])
load = lambda name: torch.from_numpy(np.load(f'{directory}/{name}.npy'))

train, test = load('train'), load('test')        # [n, 3]: user, item, rating (float32; ids exact)
clean = load('test-clean')[:, 0]                 # noise-free test ratings, [m, 1]
orders = load('orders').long()                   # [epochs, n]: the example's shuffles
users_init, items_init = load('users'), load('items')
num_users, dim = users_init.shape
num_items = items_init.shape[0]

users = torch.nn.Embedding(num_users, dim, sparse=True)
items = torch.nn.Embedding(num_items, dim, sparse=True)
user_bias = torch.nn.Embedding(num_users, 1, sparse=True)
item_bias = torch.nn.Embedding(num_items, 1, sparse=True)
with torch.no_grad():
    users.weight.copy_(users_init)
    items.weight.copy_(items_init)
    user_bias.weight.zero_()
    item_bias.weight.zero_()
layers = [users, items, user_bias, item_bias]
optimizer = torch.optim.Adagrad([p for layer in layers for p in layer.parameters()], lr=settings['lr'])
mean = settings['trainMean']
batch = settings['batch']


def make_schedule(name, total):
    """The learning-rate schedule recommender.mjs steps after every batch (its makeSchedule)."""
    from torch.optim import lr_scheduler
    if name == 'none':
        return None
    if name == 'cosine':
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if name == 'onecycle':
        return lr_scheduler.OneCycleLR(optimizer, max_lr=settings['lr'], total_steps=total, cycle_momentum=False)
    warmup = round(total / 20)
    return lr_scheduler.SequentialLR(optimizer, milestones=[warmup], schedulers=[
        lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup),
        lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup)])


schedule = make_schedule(settings['schedule'], settings['totalSteps'])


def predict(u, i):
    return mean + user_bias(u)[:, 0] + item_bias(i)[:, 0] + (users(u) * items(i)).sum(1)


train_users, train_items, train_ratings = train[:, 0].long(), train[:, 1].long(), train[:, 2].contiguous()
test_users, test_items, test_ratings = test[:, 0].long(), test[:, 1].long(), test[:, 2]


def evaluate():
    with torch.no_grad():
        p = torch.cat([predict(test_users[s:s + batch], test_items[s:s + batch]) for s in range(0, len(test_users), batch)]).double()
        rmse = float(((p - test_ratings.double()) ** 2).mean().sqrt())
        corr = float(torch.corrcoef(torch.stack([p, clean.double()]))[0, 1])
    return rmse, corr


train_seconds = 0.0
epochs = []
for epoch in range(settings['epochs']):
    order = orders[epoch]
    u_all, i_all, r_all = train_users[order], train_items[order], train_ratings[order]
    started = time.perf_counter()
    sse = 0.0
    for s in range(0, len(order), batch):
        u, i, r = u_all[s:s + batch], i_all[s:s + batch], r_all[s:s + batch]
        err = predict(u, i) - r
        loss = (err * err).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        sse += float(loss) * len(u)
    train_seconds += time.perf_counter() - started
    rmse, corr = evaluate()
    epochs.append({'trainLoss': sse / len(order), 'rmse': rmse, 'corr': corr, 'trainSeconds': train_seconds})

print(json.dumps({'torch': torch.__version__, 'trainSeconds': train_seconds, 'rmse': epochs[-1]['rmse'], 'corr': epochs[-1]['corr'], 'epochs': epochs}))
