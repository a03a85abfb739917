"""PyTorch reference row for the performance table: torchvision ResNet50 (10 classes, ImageNet stem) on
32x32 inputs, SGD with momentum, 2 CPU threads; median of steps 2-4 at batch 16, 32 and 64.

    /usr/bin/python3 tools/torch_throughput.py              # Debian's python3-torch, python3-torchvision
    /usr/bin/python3 tools/torch_throughput.py 32,64        # only these batch sizes

bench/throughput_bench.ts --torch runs it for the PyTorch row of its table.
"""
import statistics
import sys
import time

import torch
import torchvision

torch.set_num_threads(2)
torch.manual_seed(0)
model = torchvision.models.resnet50(num_classes=10)
model.train()
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
batches = [int(b) for b in sys.argv[1].split(",")] if len(sys.argv) > 1 else [16, 32, 64]
for batch in batches:
    x = torch.randn(batch, 3, 32, 32)
    y = torch.arange(batch) % 10
    times = []
    for _ in range(4):
        start = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    med = statistics.median(times[1:])
    print(f"torch {torch.__version__} resnet50 batch {batch}: median step {med:.3f} s, {batch / med:.1f} img/s", flush=True)
