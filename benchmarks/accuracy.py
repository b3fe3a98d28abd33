"""Test accuracy of the seed 003 MLP and the seed 004 CNN, deepgrad beside PyTorch.

Both frameworks train the same architecture on the same data for the same epochs with the
same recipe (Keras defaults: Glorot-uniform kernels, zero biases, Adam lr 1e-3 and
epsilon 1e-7, batch 128, reshuffled every epoch), and are evaluated on the test set.

    python benchmarks/accuracy.py --model all --epochs 5            # full Fashion-MNIST
    python benchmarks/accuracy.py --model cnn --epochs 2 --dataset mnist_subset --framework deepgrad
"""
from __future__ import annotations

import argparse
import time

import numpy as np

BATCH = 128
MODELS = ("mlp", "cnn")


def load(dataset: str):
    """``(x_train, y_train), (x_test, y_test)``: float32 images in [0, 1] ``(n, 28, 28, 1)``, int64 labels."""
    from deepgrad import datasets

    loader = {"fashion_mnist": datasets.fashion_mnist, "mnist_subset": datasets.mnist_subset}[dataset]
    (x_train, y_train), (x_test, y_test) = loader.load_data()

    def prepare(x, y):
        return (x.astype(np.float32) / 255.0)[..., None], y.astype(np.int64)

    return prepare(x_train, y_train), prepare(x_test, y_test)


# --------------------------------------------------------------------------- deepgrad
def deepgrad_model(name: str):
    """Seed 003's MLP or seed 004's CNN, compiled as the seeds compile them."""
    import deepgrad as dg
    from deepgrad import layers

    if name == "mlp":
        stack = [layers.Input((784,)), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    else:
        stack = [layers.Input((28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                 layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")]
    model = dg.Sequential(stack)
    model.compile(optimizer=dg.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_deepgrad(name: str, data, epochs: int, seed: int, verbose: int = 2) -> dict:
    import deepgrad as dg

    dg.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = data
    if name == "mlp":
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    model = deepgrad_model(name)
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=verbose)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=BATCH, verbose=0)
    return {"accuracy": float(accuracy), "loss": float(loss), "seconds": seconds}


# --------------------------------------------------------------------------- PyTorch
def torch_model(name: str):
    """The same network in torch.nn, channels-first; the softmax lives in the loss."""
    from torch import nn

    if name == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(13 * 13 * 32, 128), nn.ReLU(), nn.Linear(128, 10))
    for module in net:
        if isinstance(module, (nn.Linear, nn.Conv2d)):  # Keras's glorot_uniform and zeros
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    return net


def train_torch(name: str, data, epochs: int, seed: int, verbose: int = 2) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    (x_train, y_train), (x_test, y_test) = data
    x_train, x_test = (torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in (x_train, x_test))
    y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)
    net = torch_model(name)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        epoch_start, total_loss, correct = time.perf_counter(), 0.0, 0
        order = torch.from_numpy(rng.permutation(len(x_train)))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            logits = net(x_train[idx])
            loss = loss_fn(logits, y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == y_train[idx]).sum().item()
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - epoch_start:.0f}s - "
                  f"accuracy: {correct / len(x_train):.4f} - loss: {total_loss / len(x_train):.4f}", flush=True)
    seconds = time.perf_counter() - start

    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(x_test[i:i + BATCH]) for i in range(0, len(x_test), BATCH)])
    return {"accuracy": (logits.argmax(1) == y_test).float().mean().item(),
            "loss": loss_fn(logits, y_test).item(), "seconds": seconds}


TRAINERS = {"deepgrad": train_deepgrad, "torch": train_torch}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=MODELS + ("all",), default="all")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", choices=("fashion_mnist", "mnist_subset"), default="fashion_mnist")
    p.add_argument("--framework", choices=tuple(TRAINERS) + ("both",), default="both")
    args = p.parse_args()
    models = MODELS if args.model == "all" else (args.model,)
    frameworks = tuple(TRAINERS) if args.framework == "both" else (args.framework,)

    data = load(args.dataset)
    print(f"{args.dataset}: {len(data[0][0])} train, {len(data[1][0])} test images; "
          f"{args.epochs} epochs, batch {BATCH}, seed {args.seed}", flush=True)
    rows = []
    for name in models:
        for framework in frameworks:
            print(f"--- {name} / {framework}", flush=True)
            rows.append((name, framework, TRAINERS[framework](name, data, args.epochs, args.seed)))

    print(f"\n{'model':6s} {'framework':9s} {'test acc':>8s} {'test loss':>9s} {'train s':>8s}")
    for name, framework, r in rows:
        print(f"{name:6s} {framework:9s} {r['accuracy']:8.4f} {r['loss']:9.4f} {r['seconds']:8.1f}")


if __name__ == "__main__":
    main()
