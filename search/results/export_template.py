"""The text of an exported trial's script, with ``$name`` slots filled by search.export.render."""

from string import Template

__all__ = ["TEMPLATE"]

TEMPLATE = Template('''\
#!/usr/bin/env python3
"""Trial $trial of nas-mnist study '$study', as a standalone PyTorch script.

Architecture: $arch
Parameters:   $params
Validation accuracy in the search: $val_acc

    python $stem.py --evaluate $stem.pt      # test accuracy of the saved weights
    python $stem.py --train [--epochs E] [--data-dir D] [--device cpu|cuda]

--train retrains from scratch with the trial's recipe ($optimizer, schedule '$schedule') on all
60,000 training images (the search held some of them out for validation), then reports the test
accuracy and saves the weights. Only torch, torchvision and the standard library are needed.
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

$constants


class Net(nn.Module):
    def __init__(self):
        super().__init__()
$init

    def forward(self, x):  # x: N x 1 x 28 x 28, normalised
$forward
        return x


def mnist(data_dir, train, augment=()):
    """MNIST from torchvision (downloaded into data_dir if missing), normalised."""
    to_input = [transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]
    tf = transforms.Compose([*augment, *to_input])
    return datasets.MNIST(data_dir, train=train, download=True, transform=tf)


def evaluate(model, data_dir, device):
    """Accuracy (fraction) on the 10,000 MNIST test images."""
    loader = DataLoader(mnist(data_dir, train=False), batch_size=1000)
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
    return correct / len(loader.dataset)


def train(model, data_dir, device, epochs, subset=None):
    $augment
    train_set = mnist(data_dir, train=True, augment=augment)
    if subset:
        train_set = Subset(train_set, range(subset))
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
    optimizer = $make_optimizer
    $make_scheduler
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y, label_smoothing=LABEL_SMOOTHING)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()$scheduler_step
            total += loss.item() * len(y)
        print(f"epoch {epoch}/{epochs}: train loss {total / len(train_set):.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--evaluate", metavar="WEIGHTS", help="print the test accuracy of WEIGHTS")
    mode.add_argument("--train", action="store_true", help="retrain from scratch, then evaluate")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}")
    parser.add_argument("--data-dir", default="./data", help="MNIST root (default ./data)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--train-subset", type=int, metavar="N",
                        help="train on the first N training images only (a quick check)")
    parser.add_argument("--save", default="$stem.retrained.pt",
                        help="where --train saves the weights (default $stem.retrained.pt)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    model = Net()
    n = sum(p.numel() for p in model.parameters())
    if n != PARAMS:
        sys.exit(f"error: this Net has {n} parameters, the trial had {PARAMS}")
    model.to(args.device)
    if args.evaluate:
        if not Path(args.evaluate).is_file():
            sys.exit(f"error: no weights file {args.evaluate}")
        state = torch.load(args.evaluate, map_location=args.device, weights_only=True)
        model.load_state_dict(state)
    else:
        torch.manual_seed(args.seed)
        train(model, args.data_dir, args.device, args.epochs, args.train_subset)
        torch.save(model.state_dict(), args.save)
        print(f"saved weights to {args.save}")
    acc = evaluate(model, args.data_dir, args.device)
    print(f"test accuracy: {100 * acc:.2f} %")


if __name__ == "__main__":
    main()
''')
