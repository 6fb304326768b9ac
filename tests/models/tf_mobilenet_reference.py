"""Run under a Python with TensorFlow (not signfer's): HSEmotion's MobileNet topology in Keras, random weights.

    python tf_mobilenet_reference.py OUT_DIR [keras2]

``keras2``: build with ``tf_keras`` (Keras 2, what the SLTAT notebooks ran: ``tensorflow.keras`` of TF 2.x, whose
BatchNormalization uses the fused kernel), else with the Keras that TensorFlow ships.

Reads OUT_DIR/input.npy ((N, 224, 224, 3) float32, IP-normalised face crops) and OUT_DIR/labels.npy; writes
OUT_DIR/mobilenet_7.h5 (keras.applications.MobileNet + global pooling + Dropout + Dense(256) 'feats' +
Dense(7, softmax) 'emotion_preds', HSEmotion's layout), OUT_DIR/infer.npy (softmax outputs in inference mode) and
OUT_DIR/step.npz: the weights after one SGD step in training mode (BatchNormalization updates its moving
statistics with momentum 0.99) with the dropout rate set to 0 (so the step is deterministic).
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

if len(sys.argv) > 2 and sys.argv[2] == "keras2":
    import tf_keras as keras
else:
    from tensorflow import keras


def build(dropout: float) -> keras.Model:
    base = keras.applications.MobileNet(weights=None, include_top=False, input_shape=(224, 224, 3))
    x = keras.layers.GlobalAveragePooling2D(name="global_pooling")(base.output)
    x = keras.layers.Dropout(dropout, name="dropout_1")(x)
    x = keras.layers.Dense(256, activation="relu", name="feats")(x)
    out = keras.layers.Dense(7, activation="softmax", name="emotion_preds")(x)
    return keras.Model(base.input, out)


def main(out: Path) -> None:
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = np.load(out / "input.npy").astype(np.float32)
    y = np.load(out / "labels.npy").astype(np.int64)
    model = build(0.5)
    for layer in model.layers:  # non-trivial BatchNorm statistics and small dense weights
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.8, 1.2, g.shape).astype(np.float32), rng.normal(0, 0.1, b.shape).astype(np.float32),
                               rng.normal(0, 0.2, m.shape).astype(np.float32), rng.uniform(0.5, 2.0, v.shape).astype(np.float32)])
        elif layer.name in ("feats", "emotion_preds"):
            k, b = layer.get_weights()
            layer.set_weights([(k * 0.5).astype(np.float32), rng.normal(0, 0.01, b.shape).astype(np.float32)])
    model.save(str(out / "mobilenet_7.h5"))
    np.save(out / "infer.npy", model(x, training=False).numpy())

    train = build(0.0)
    train.set_weights(model.get_weights())
    opt = keras.optimizers.SGD(learning_rate=0.01)
    with tf.GradientTape() as tape:
        probs = train(x, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
    grads = tape.gradient(loss, train.trainable_variables)
    opt.apply_gradients(zip(grads, train.trainable_variables))
    keep = {}
    for name in ("conv1", "conv1_bn", "conv_dw_7", "conv_pw_7_bn", "conv_pw_13", "conv_pw_13_bn", "feats", "emotion_preds"):
        layer = train.get_layer(name)
        for w in layer.weights:
            keep[f"{name}/{w.name.split('/')[-1].split(':')[0]}"] = w.numpy()
    keep["loss"] = np.float32(loss.numpy())
    keep["infer_after"] = train(x, training=False).numpy()
    np.savez(out / "step.npz", **keep)
    print(f"tensorflow {tf.__version__}, keras {keras.__version__}: loss {float(loss):.6f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
