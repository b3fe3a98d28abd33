"""Why did the CNN read this digit as a 7? Explanations of a trained MNIST CNN.

Trains seed 004's CNN (on the 5,000 real MNIST digits that install offline, or full MNIST
with ``--dataset mnist``), then explains a few test digits with each method of
``deepgrad.explain`` and draws them side by side in ``explain_digits.png``:

- saliency, SmoothGrad, integrated gradients (with their completeness check), Grad-CAM at the
  convolution, occlusion of 4 x 4 patches;
- SHAP (KernelSHAP over 4 x 4 patches) and LIME (the image explainer, on the same patches)
  through ``explain.as_predict_fn``, when they are installed: deepgrad does not depend on
  them (``pip install shap lime``).

    python examples/explain_digits.py --epochs 2
"""
import argparse
import importlib.util

import numpy as np

from deepgrad import datasets, explain, reports, utils
from deepgrad.layers import Conv2D, Dense, Flatten, MaxPooling2D
from deepgrad.models import Sequential

PATCH = 4   # SHAP's and LIME's features: a 7 x 7 grid of 4 x 4 patches


def train(dataset, epochs, verbose):
    (x_train, y_train), (x_test, y_test) = getattr(datasets, dataset).load_data()
    x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
    model = Sequential([
        Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1), name="conv"),
        MaxPooling2D(pool_size=(2, 2)),
        Flatten(),
        Dense(128, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=128, verbose=verbose)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    return model, x_test, y_test, accuracy


def patch_segments(size=28, patch=PATCH) -> np.ndarray:
    """(size, size) labels: which patch of the grid each pixel belongs to."""
    rows = np.arange(size) // patch
    return rows[:, None] * (size // patch) + rows[None, :]


def with_patches(image, on) -> np.ndarray:
    """Copies of ``image`` (28, 28, 1) with the patches where ``on`` (n, 49) is 0 blacked out."""
    segments = patch_segments()
    return image[None] * np.asarray(on, "float32")[:, segments][..., None]


def shap_patches(model, image, label, samples=300):
    """KernelSHAP values of the 49 patches for class ``label``."""
    import shap

    predict = explain.as_predict_fn(model)
    explainer = shap.KernelExplainer(lambda on: predict(with_patches(image, on)), np.zeros((1, 49)))
    values = explainer.shap_values(np.ones((1, 49)), nsamples=samples, silent=True)
    # shap gives one array per class (older versions) or one (samples, features, classes) array
    values = np.asarray(values[label] if isinstance(values, list) else np.asarray(values)[..., label])
    return values.reshape(-1)[patch_segments()]


def lime_patches(model, image, label, samples=300):
    """LIME's weights of the 49 patches for class ``label``."""
    from lime import lime_image

    explainer = lime_image.LimeImageExplainer(random_state=0)
    # LIME hands the function RGB copies of the gray image; as_predict_fn turns them back to gray
    explanation = explainer.explain_instance(image[..., 0].astype("float64"), explain.as_predict_fn(model),
                                             labels=(label,), top_labels=None, hide_color=0,
                                             num_samples=samples, segmentation_fn=lambda _: patch_segments())
    weights = np.zeros(49)
    for segment, weight in explanation.local_exp[label]:
        weights[segment] = weight
    return weights[patch_segments()]


def main(epochs=2, dataset="mnist_subset", count=4, out="explain_digits.png", verbose=1):
    utils.set_random_seed(0)
    model, x_test, y_test, accuracy = train(dataset, epochs, verbose)
    print(f"test accuracy {accuracy:.4f}")
    x, y = x_test[:count], y_test[:count]
    pred = model.predict(x, verbose=0).argmax(axis=1)

    ig, delta = explain.integrated_gradients(model, x, pred, steps=64, return_convergence_delta=True)
    maps = {
        "saliency": explain.saliency(model, x, pred),
        "SmoothGrad": explain.smoothgrad(model, x, pred, samples=50, noise=0.15, seed=0, absolute=True),
        "integrated gradients": ig,
        "Grad-CAM": explain.grad_cam(model, x, pred, "conv"),
        "occlusion": explain.occlusion(model, x, pred, window=(PATCH, PATCH), stride=(PATCH // 2, PATCH // 2)),
    }
    rows = np.arange(count)
    gap = model.predict(x, verbose=0)[rows, pred] - model.predict(np.zeros_like(x), verbose=0)[rows, pred]
    print(f"integrated gradients: attributions sum to f(x) - f(black image) within {np.max(np.abs(delta / gap)):.2%}")

    # how much of each map lies on the digit's ink rather than on the black background
    ink = x[..., 0] > 0.2
    on_ink = {}
    for name, attribution in maps.items():
        heat = np.stack([reports.heat_map(a, x.shape[1:]) for a in attribution])
        on_ink[name] = heat[ink].sum() / heat.sum()
        print(f"{name:22s} share on the ink: {on_ink[name]:.2f} (the ink covers {ink.mean():.2f} of the image)")

    for name, package, explainer in (("SHAP", "shap", shap_patches), ("LIME", "lime", lime_patches)):
        if importlib.util.find_spec(package) is None:
            print(f"{name} is not installed; `pip install {package}` adds it to this example")
            continue
        maps[name] = np.stack([np.maximum(explainer(model, image, int(label)), 0) for image, label in zip(x, pred)])

    titles = [f"predicted {p}\ntrue {t}" for p, t in zip(pred, y)]
    reports.plot_explanation_grid(x, maps, titles, out)
    print(f"wrote {out}")
    return {"accuracy": accuracy, "maps": maps, "delta": delta, "gap": gap, "on_ink": on_ink,
            "ink": float(ink.mean())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dataset", default="mnist_subset", help="mnist_subset (offline), mnist, fashion_mnist")
    parser.add_argument("--count", type=int, default=4, help="how many test images to explain")
    parser.add_argument("--out", default="explain_digits.png")
    args = parser.parse_args()
    main(args.epochs, args.dataset, args.count, args.out)
