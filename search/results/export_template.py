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
    python $stem.py --train [--epochs E] [--data-dir D] [--device cpu|cuda] [--seed K]

--train retrains from scratch with the trial's recipe ($optimizer, schedule '$schedule') on all
60,000 training images (the search held some of them out for validation), then reports the test
accuracy and saves the weights; --evaluate reads the 10,000 test images only. MNIST is read from
D/MNIST/raw (default D: $$NAS_MNIST_DATA or ~/.cache/nas-mnist, as for nas-mnist itself) and is
downloaded only with --download. Only torch, torchvision and the standard library are needed.
"""

import argparse
import gzip
import hashlib
import math
import os
import sys
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import $torchvision

$constants


class Net(nn.Module):
    def __init__(self):
        super().__init__()
$init

    def forward(self, x):  # x: N x 1 x 28 x 28, normalised
$forward
        return x


DATA_DIR = os.environ.get("NAS_MNIST_DATA") or os.path.expanduser("~/.cache/nas-mnist")
FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


MD5 = dict(datasets.MNIST.resources)  # torchvision's checksums of the four .gz files
# the same words as nas-mnist's own
DAMAGED = "MNIST file {path} is damaged ({what}); delete it to {redo}, or copy a good one there"


def idx_problem(head, size):
    """What is wrong with an unpacked idx file, from its first 16 bytes and its size, or None."""
    if len(head) < 4 or head[:3] != bytes([0, 0, 8]) or not 1 <= head[3] <= 3:
        return "not an MNIST idx file"
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        return f"truncated: {size:,} bytes"
    dims = [int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    want = 4 + 4 * ndim + math.prod(dims)
    if size < want:
        return f"truncated: {size:,} of {want:,} bytes"
    return None if size == want else f"{size:,} bytes, not {want:,}"


def unpack(gz):
    """The bytes inside a .gz; a damaged one (not torchvision's md5) stops the script."""
    packed = gz.read_bytes()
    problem, data = None, b""
    try:
        data = gzip.decompress(packed)
    except EOFError:
        problem = "truncated"
    except (OSError, zlib.error):
        problem = "corrupt gzip data" if packed[:2] == bytes([0x1F, 0x8B]) else "not a gzip file"
    md5 = hashlib.md5(packed, usedforsecurity=False).hexdigest()
    want = MD5.get(gz.name, md5)
    if md5 != want:
        checksum = f"md5 {md5} is not torchvision's {want}"
        problem = problem or idx_problem(data[:16], len(data))
        what = f"{problem}; {checksum}" if problem else f"checksum mismatch: {checksum}"
        sys.exit("error: " + DAMAGED.format(path=gz, what=what, redo="download it again"))
    return data


def read_idx(path):
    """One MNIST idx file (plain, or .gz beside it) as a uint8 tensor; None if neither exists.
    A damaged one stops the script with one line saying which file and what to do."""
    gz = path.with_name(path.name + ".gz")
    if path.is_file():
        data = path.read_bytes()
        problem = idx_problem(data[:16], len(data))
        if problem:
            redo = "unpack it again from its .gz (or download it)"
            sys.exit("error: " + DAMAGED.format(path=path, what=problem, redo=redo))
    elif gz.is_file():
        data = unpack(gz)
    else:
        return None
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).view(shape)


def mnist(data_dir, train, download=False):
    """(images N x 28 x 28 uint8, labels N) of the training or the test set, read from
    data_dir/MNIST/raw; a missing file stops the script with one line, creating nothing."""
    raw = Path(data_dir) / "MNIST" / "raw"
    paths = [raw / name for name in FILES[train]]
    if download and None in (read_idx(p) for p in paths):
        datasets.MNIST(data_dir, train=train, download=True)  # fetches the four files into raw
    x, y = (read_idx(p) for p in paths)
    if x is None or y is None:
        sys.exit(f"error: MNIST {'training' if train else 'test'} files not found in {raw} "
                 f"(need {FILES[train][0]}[.gz] and {FILES[train][1]}[.gz]); pass --data-dir, "
                 "set $$NAS_MNIST_DATA or add --download")
    return x, y.long()


def normalise(x):
    """uint8 images (N x 28 x 28) -> float N x 1 x 28 x 28, normalised as in the search."""
    return (x.unsqueeze(1).float() / 255 - MEAN) / STD


class Images(Dataset):
    def __init__(self, x, y, augment):
        self.x, self.y, self.augment = x, y, augment

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        img = self.x[i].unsqueeze(0).float() / 255  # 1 x 28 x 28 in [0, 1]
        for tf in self.augment:
            img = tf(img)
        return (img - MEAN) / STD, self.y[i]


def evaluate(model, test, device):
    """Accuracy (fraction) on the 10,000 MNIST test images `test` = (images, labels)."""
    x, y = test
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            logits = model(normalise(x[i:i + 1000]).to(device))
            correct += (logits.argmax(1) == y[i:i + 1000].to(device)).sum().item()
    return correct / len(y)


def train(model, train_set, device, epochs, subset=None):
    $augment
    x, y = train_set
    if subset:
        x, y = x[:subset], y[:subset]
    train_set = Images(x, y, augment)
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
    optimizer = $make_optimizer
    $make_scheduler$make_ema
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y, label_smoothing=LABEL_SMOOTHING)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()$scheduler_step$ema_step
            total += loss.item() * len(y)
        print(f"epoch {epoch}/{epochs}: train loss {total / len(train_set):.4f}")$ema_end


def load_weights(model, path, device):
    """`path`'s weights into `model`; a file that is not a state dict of this net stops the script
    with one line naming the file and the mismatch."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)  # never runs pickled code
    except Exception as e:  # not a torch file, cut short, or pickled objects beyond tensors
        text = str(e).split(". ")[0].strip()  # torch's first sentence; the rest is advice
        if "Unsupported global" in str(e):  # what weights_only=True refuses to unpickle
            why = "it holds objects other than tensors"
        elif isinstance(e, RuntimeError) and text:  # torch's own words: a truncated file
            why = text[:120]
        else:
            why = "torch.load cannot read it"
        sys.exit(f"error: {path} is not a PyTorch weights file ({why})")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        sys.exit(f"error: {path} holds a {type(state).__name__}, not the weights of a net")
    mine = model.state_dict()
    shapes = [k for k in mine if k in state and state[k].shape != mine[k].shape]
    missing = [k for k in mine if k not in state]
    extra = [k for k in state if k not in mine]
    what = []
    if shapes:
        k = shapes[0]
        what.append(f"{k} is {list(state[k].shape)}, this net's is {list(mine[k].shape)}"
                    + (f" (and {len(shapes) - 1} more)" if len(shapes) > 1 else ""))
    if missing:
        what.append(f"{len(missing)} tensor(s) missing ({missing[0]}, ...)")
    if extra:
        what.append(f"{len(extra)} tensor(s) this net does not have ({extra[0]}, ...)")
    if what:
        sys.exit(f"error: {path} holds the weights of another net: " + "; ".join(what))
    model.load_state_dict(state)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--evaluate", metavar="WEIGHTS", help="print the test accuracy of WEIGHTS")
    mode.add_argument("--train", action="store_true", help="retrain from scratch, then evaluate")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}")
    parser.add_argument("--data-dir", default=DATA_DIR, metavar="D",
                        help="MNIST root holding MNIST/raw (default: $$NAS_MNIST_DATA or "
                        "~/.cache/nas-mnist, now %(default)s)")
    parser.add_argument("--download", action="store_true",
                        help="download MNIST into --data-dir if it is missing (needs internet)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to run: cpu, cuda or cuda:N (default: cuda if available, "
                        "else cpu; now %(default)s)")
    parser.add_argument("--train-subset", type=int, metavar="N",
                        help="train on the first N training images only (a quick check)")
    parser.add_argument("--save", default="$stem.retrained.pt",
                        help="where --train saves the weights (default $stem.retrained.pt)")
    parser.add_argument("--seed", type=int, default=SEED, metavar="K",
                        help="--train's seed for the initial weights, shuffling, augmentation "
                        "and dropout (default %(default)s: the seed the search trained this "
                        "trial with)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"error: --device {args.device}, but CUDA is not available; use --device cpu")

    model = Net()
    n = sum(p.numel() for p in model.parameters())
    if n != PARAMS:
        sys.exit(f"error: this Net has {n} parameters, the trial had {PARAMS}")
    model.to(args.device)
    if args.evaluate and not Path(args.evaluate).is_file():
        sys.exit(f"error: no weights file {args.evaluate}")
    # read the data first: a missing file stops the script before it trains or writes anything
    train_set = None if args.evaluate else mnist(args.data_dir, True, args.download)
    test = mnist(args.data_dir, False, args.download)
    if args.evaluate:
        load_weights(model, args.evaluate, args.device)
    else:
        torch.manual_seed(args.seed)
        train(model, train_set, args.device, args.epochs, args.train_subset)
        torch.save(model.state_dict(), args.save)
        print(f"saved weights to {args.save}")
    acc = evaluate(model, test, args.device)
    print(f"test accuracy: {100 * acc:.2f} %")


if __name__ == "__main__":
    main()
''')
