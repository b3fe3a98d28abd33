"""Seed 000: XOR with a hand-written TensorFlow training loop, only its import line changed.

``import tensorflow as tf`` became ``from deepgrad.compat import tensorflow as tf``: the
constants, variables, ``GradientTape`` and ``optimizer.apply_gradients`` are deepgrad's.
The seed's code has bugs, fixed here and marked where they were:

- ``W2`` is ``[1, 4]`` and ``b2`` is ``[1, 4]``: the hidden layer has 4 units and the output
  1, so ``tf.matmul(a1, W2)`` needs ``W2`` of ``[4, 1]`` and ``b2`` of ``[1, 1]``;
- with ``learning_rate=0.01`` and 1,000 steps, plain gradient descent on this MSE has barely
  left its starting point; the step is 0.5 and the loop 2,000 steps, after which all four
  XOR points are right;
- the seed's ``tf.random.normal`` draws differ on each run; a seed makes this one repeat.

    python examples/seed_000_tensorflow_loop.py
"""
from deepgrad.compat import tensorflow as tf


def main(steps=2000, learning_rate=0.5, seed=0, verbose=True):
    tf.random.set_seed(seed)  # added: a repeatable run

    # 输入数据
    X = tf.constant([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=tf.float32)
    # 标签数据
    y = tf.constant([[0], [1], [1], [0]], dtype=tf.float32)

    # 初始化权重和偏置
    W1 = tf.Variable(tf.random.normal([2, 4]), dtype=tf.float32)
    b1 = tf.Variable(tf.zeros([1, 4]), dtype=tf.float32)
    W2 = tf.Variable(tf.random.normal([4, 1]), dtype=tf.float32)  # fixed: was [1, 4]
    b2 = tf.Variable(tf.zeros([1, 1]), dtype=tf.float32)          # fixed: was [1, 4]

    # 训练模型
    optimizer = tf.optimizers.SGD(learning_rate=learning_rate)  # fixed: 0.01 is too small
    for i in range(steps):
        with tf.GradientTape() as tape:
            # 前向传播
            X_hat = tf.matmul(X, W1) + b1
            a1 = tf.tanh(X_hat)
            X_hat = tf.matmul(a1, W2) + b2
            a2 = tf.tanh(X_hat)

            # 计算损失函数
            loss = tf.reduce_mean(tf.square(y - a2))
        # 计算梯度
        gradients = tape.gradient(loss, [W1, b1, W2, b2])
        # 更新权重和偏置
        optimizer.apply_gradients(zip(gradients, [W1, b1, W2, b2]))
        if verbose and i % 500 == 0:
            print(f"step {i:4d}  loss {loss.item():.4f}")

    predictions = (a2.numpy() > 0.5).astype("float32")
    accuracy = float((predictions == y.numpy()).mean())
    if verbose:
        print("predictions:", predictions.ravel(), "accuracy:", accuracy)
    return accuracy


if __name__ == "__main__":
    main()
