"""Training recipes as data: ``signfer/configs/recipes/<name>.yaml`` -> :class:`Recipe` with its :class:`Stage` list.

A recipe says which model to start from (``arch``, ``pretrained`` or ``init_from``), how to feed it
(``preset``, ``region``, ``normalization``, ``image_size``), what to learn (``classes``, the data
``policy``), and how: ``batch_size``, ``seed``, ``class_weights``, ``hflip`` and a list of
``stages``, each training one part of the network (``trainable``) with one optimiser for a
number of epochs. A recipe without stages is a no-fine-tuning baseline (M0 / E0): the
pretrained model's outputs are carried into ``classes`` with
:func:`signfer.data.labels.map_probabilities`.

A recipe file may start with ``extends: <other recipe>``: the other recipe's fields are read
first and this file's fields replace them (``stages`` as a whole). Any field can be changed
at run time with an override ``key=value`` (``stages.0.epochs=1``, ``stages.*.lr=0.01``,
``image_size=64``), see :func:`apply_overrides`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from signfer.config import list_configs, load_yaml_config, parse_yaml
from signfer.errors import OptionError
from signfer.models.spec import (
    NORMALIZATIONS,  # re-exported: the recipe choices are the spec's
)

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("none", "cosine")
SELECT_METRICS = ("val_acc", "val_mean_sensitivity", "val_loss")
#: where the checkpoint is chosen: ``validation`` (a split inside the training part, honest) or ``test``
#: (the test fold itself, as the SLTAT notebooks did with ``validation_data=test``: optimistic)
SELECT_ON = ("validation", "test")
#: ``run``: the best epoch over all stages is kept; ``stage``: every stage starts from the best epoch of the
#: previous stage and the last stage's best epoch is kept (the notebooks: a fresh ModelCheckpoint per stage,
#: ``new_model.load_weights(net_description)`` before the next one; the EfficientNet ``train()`` loads its best)
SELECT_SCOPES = ("run", "stage")
#: under ``select_on: test``, the weights the test fold is finally evaluated with: ``best`` (the selected checkpoint)
#: or ``last`` (the model after the last epoch: mobilenet_crossval_train.ipynb cell 11 evaluates the in-memory model
#: after the last SGD epoch, ``#new_model.load_weights(net_description+'_ft.h5')`` commented out)
FINAL_ON_TEST = ("best", "last")
#: class-weighted loss: ``keras`` = mean over the batch of weight[y] * CE (Keras ``class_weight``);
#: ``torch`` = sum(weight[y] * CE) / sum(weight[y]) (``nn.CrossEntropyLoss(weight=...)``)
CLASS_WEIGHT_MODES = ("keras", "torch")
#: settings of the published code that apply only under a published protocol (``select_on: test``, or the 2025
#: code's ``split: easier2025``), each with
#: signfer's value (the honest protocol's) first:
#: ``sam_second_pass``: ``frozen_bn`` (signfer: SAM's second forward leaves BatchNorm statistics alone) or
#: ``train_mode`` (the EfficientNet notebooks: a plain second ``model(data)``, statistics updated twice per step);
#: ``test_flip``: RandomHorizontalFlip in the test transform (enet_crossval_train.ipynb ``test_transforms``; the 2025
#: code's FaceExpressionPhoenixDataLoader, whose one transform serves training, validation and test);
#: ``val_accuracy``: ``pooled`` or ``batch_mean`` (``epoch_val_accuracy += acc / len(test_loader)``);
#: ``eval_channels``: ``rgb`` or ``bgr`` (Table 4's MobileNet rows without IP: ``img=cv2.imread(filepath)``,
#: ``#img = cv2.cvtColor(img,cv2.COLOR_BGR2RGB)``: trained on RGB, evaluated on BGR);
#: ``train_resize``: ``opencv`` (signfer: area / bilinear) or ``nearest`` (Keras ``flow_from_directory``
#: resizes training images with nearest neighbour; the notebooks' evaluation uses ``cv2.resize``, bilinear)
PUBLISHED_SETTINGS = {
    "sam_second_pass": ("frozen_bn", "train_mode"),
    "test_flip": (False, True),
    "val_accuracy": ("pooled", "batch_mean"),
    "eval_channels": ("rgb", "bgr"),
    "train_resize": ("opencv", "nearest"),
}
#: training order: ``shuffle`` (every image once per epoch), ``balanced`` (torch ``WeightedRandomSampler``
#: with scikit-learn's 'balanced' class weights, with replacement, as EASIER-EkmanClassifier's loaders mean to) or
#: ``published-2025`` (that sampler as base_data_loader.py runs it: indices over the whole reordered training file,
#: validation rows drawn, the last training rows never, weights shifted; see signfer.data.sampler; needs split easier2025)
SAMPLERS = ("shuffle", "balanced", "published-2025")
#: ``kfold``: grouped stratified k-fold (signfer's protocol); ``easier2025``: the 2025 code's single 80/20
#: frame-level split (Scripts/train_test_split_FePh.py, not grouped by sequence; see signfer.data.folds)
SPLITS = ("kfold", "easier2025")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_TRAINABLE = re.compile(r"^(head|all|last:(\d+))$")


def _number(name: str, value: Any, kind=float):
    """``value`` as a finite ``kind`` (``--set stages.0.lr=nan`` or ``=.inf`` is refused, not trained with)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise OptionError(f"{name} must be a finite number, got {value!r}")
    if kind is int and x != int(x):
        raise OptionError(f"{name} must be a whole number, got {value!r}")
    return kind(x)


@dataclass
class Stage:
    """One phase of training: which parameters learn, with which optimiser, for how many epochs.

    ``trainable``: ``head`` (the classifier only; the backbone is frozen and its BatchNorm layers
    stay in inference mode, as Keras does with a frozen base), ``all``, or ``last:K`` (the
    classifier, the layers after the backbone's blocks and its last ``K`` blocks; for timm
    MobileNet / EfficientNet models a block is one entry of ``model.blocks``, a group of
    inverted-residual layers with the same output width: 7 in mobilenetv2_100 and
    efficientnet_b0). ``optimizer``: ``adam`` or ``sgd``; ``sam: true`` wraps it in
    Sharpness-Aware Minimisation with radius ``rho``. ``scheduler``: ``none`` (constant ``lr``,
    as in the papers) or ``cosine`` (cosine decay to 0 over the stage). ``decay``: Keras' legacy
    learning-rate decay, ``lr / (1 + decay * step)`` after every optimiser step of the stage (the
    notebooks' ``Adam(learning_rate=1e-4, decay=1e-6)``). ``patience``: stop the stage when the
    selection metric has not improved for this many epochs (Keras ``EarlyStopping(patience=...)``,
    improvement counted from the stage's first epoch; 0 = off). ``frozen_bn``: BatchNorm layers
    of the frozen part run in inference mode (true: Keras' ``trainable = False``, the MobileNet
    notebooks) or in training mode, updating their running statistics (false: a torch model in
    ``model.train()`` with ``requires_grad=False``, the EfficientNet notebooks).
    """

    trainable: str
    epochs: int
    lr: float
    optimizer: str = "adam"
    sam: bool = False
    rho: float = 0.05
    momentum: float = 0.0
    weight_decay: float = 0.0
    scheduler: str = "none"
    decay: float = 0.0
    patience: int = 0
    frozen_bn: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        self.trainable = str(self.trainable).strip().lower()
        self.optimizer = str(self.optimizer).strip().lower()
        self.scheduler = str(self.scheduler or "none").strip().lower()
        if not _TRAINABLE.match(self.trainable):
            raise OptionError(f"stage trainable must be head, all or last:K (K blocks), got {self.trainable!r}")
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"stage optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise OptionError(f"stage scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        self.epochs, self.lr, self.rho = _number("stage epochs", self.epochs, int), _number("stage lr", self.lr), _number("stage rho", self.rho)
        self.momentum, self.weight_decay, self.sam = _number("stage momentum", self.momentum), _number("stage weight_decay", self.weight_decay), bool(self.sam)
        self.decay, self.patience, self.frozen_bn = _number("stage decay", self.decay), _number("stage patience", self.patience, int), bool(self.frozen_bn)
        if self.decay < 0 or self.patience < 0:
            raise OptionError(f"stage needs decay >= 0 and patience >= 0, got decay={self.decay}, patience={self.patience}")
        if self.decay and self.scheduler != "none":
            raise OptionError("a stage takes either decay (Keras lr decay) or a scheduler, not both")
        if self.epochs < 0 or self.lr <= 0 or self.rho < 0:
            raise OptionError(f"stage needs epochs >= 0, lr > 0 and rho >= 0, got epochs={self.epochs}, lr={self.lr}, rho={self.rho}")
        if not self.name:
            opt = f"SAM({self.optimizer})" if self.sam else self.optimizer
            self.name = f"{self.trainable}-{opt}"

    @property
    def last_blocks(self) -> int | None:
        """``K`` of ``last:K``; None for ``head`` / ``all``."""
        m = _TRAINABLE.match(self.trainable)
        return int(m.group(2)) if m and m.group(2) else None


@dataclass
class Recipe:
    """A complete, reproducible training configuration (see the module docstring and ``signfer/configs/recipes/``).

    Model: ``arch`` (a :func:`signfer.models.registry.list_archs` name), ``pretrained`` (a
    registry weight name such as ``imagenet`` or ``hsemotion:enet_b0_7``, a file, or None for
    random weights), ``pretrained_classes`` (class vocabulary of the pretrained head, e.g.
    ``hsemotion7``; the baselines map it onto ``classes``), ``init_from`` (a run folder or
    checkpoint of an earlier training, e.g. on AffectNet; replaces ``pretrained``),
    ``new_head`` (replace the classifier by a fresh one for ``classes``: ``true``, ``false``,
    ``auto`` = only when the starting model's classes differ, or ``reuse`` = keep the starting head's
    weights when it has as many outputs and give output i the recipe's class i, as the 2025 code
    fine-tunes its AffectNet Linear(1280, 8) on FePh codes 0-7).
    Data: ``classes`` (vocabulary name or list), ``data_format`` (``feph``, ``affectnet``,
    ``folder``), ``policy`` (which labels the reader keeps, e.g. ``sltat2022`` / ``easier2025``),
    ``preset`` / ``preset_overrides`` / ``region`` (face preprocessing), ``normalization`` (model
    input scaling, see :class:`signfer.models.spec.ModelSpec`: ``imagenet`` mean/std, ``ip`` = the SLTAT
    "IP" (RGB minus 103.939 / 116.779 / 123.68, no flip), ``raw`` 0-255 pixels, ``caffe``, ``unit``,
    ``minus_one_one``; None = the pretrained weights' own), ``mean`` / ``std`` (the statistics of
    ``imagenet``-style normalisation when not ImageNet's, e.g. the FePh statistics of the 2025 code),
    ``image_size``.
    Training: ``batch_size``, ``seed``, ``class_weights`` (loss weight max_count / count_c,
    applied as ``class_weight_mode``), ``sampler`` (see :data:`SAMPLERS`), ``hflip`` (random
    horizontal flip of training images), ``val_fraction`` (grouped validation split inside the
    training part, used to keep the best checkpoint; 0 = keep the last epoch), ``select_metric``,
    ``select_on`` (:data:`SELECT_ON`; ``test`` is the published SLTAT protocol and optimistic),
    ``select_scope`` (:data:`SELECT_SCOPES`), ``published`` (:data:`PUBLISHED_SETTINGS`: the published code's
    conventions, in force only under ``select_on: test``; read them with :meth:`setting`), ``final_on_test`` (:data:`FINAL_ON_TEST`: with ``select_on: test``,
    ``last`` evaluates the model of the last epoch, as the MobileNet notebooks; the honest protocol always keeps the
    best validation checkpoint), ``split`` (:data:`SPLITS`), ``folds`` (default k of
    ``signfer cv``), ``stages``.
    Arithmetic: ``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``) and ``channels_last``
    (``auto``, ``true``, ``false``), see :mod:`signfer.training.precision`; ``run.yaml`` records
    what ``auto`` chose on the training device. ``fused_optimizer``: Adam / SGD as PyTorch's fused kernel (one
    kernel for all parameters instead of a loop over them; the same updates to float rounding); off by default
    (not measured faster beyond the noise on the shared 2-core machine), recorded in ``run.yaml`` like the rest.
    """

    name: str
    arch: str
    stages: list[Stage] = field(default_factory=list)
    description: str = ""
    paper: str = ""
    pretrained: str | None = None
    pretrained_classes: str | list[str] | None = None
    init_from: str | None = None
    new_head: bool | str = "auto"  # true, false, "auto" or "reuse"
    classes: str | list[str] = "emotions7"
    data_format: str = "feph"
    policy: str = "sltat2022"
    preset: str = "none"
    preset_overrides: dict = field(default_factory=dict)
    region: str = "full"
    normalization: str | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    image_size: int = 224
    batch_size: int = 32
    seed: int = 0
    class_weights: bool = False
    class_weight_mode: str = "keras"
    sampler: str = "shuffle"
    hflip: bool = False
    val_fraction: float = 0.1
    select_metric: str = "val_acc"
    select_on: str = "validation"
    select_scope: str = "run"
    final_on_test: str = "best"
    published: dict = field(default_factory=dict)
    split: str = "kfold"
    folds: int = 5
    precision: str = "auto"
    channels_last: bool | str = "auto"
    fused_optimizer: bool = False

    def __post_init__(self) -> None:
        self.stages = [s if isinstance(s, Stage) else Stage(**_check_keys(s, Stage, "stage")) for s in (self.stages or [])]
        if isinstance(self.new_head, str):
            value = self.new_head.strip().lower()
            if value not in ("auto", "true", "false", "reuse"):
                raise OptionError(f"new_head must be true, false, auto or reuse, got {self.new_head!r}")
            self.new_head = value if value in ("auto", "reuse") else value == "true"
        if self.normalization is not None and self.normalization not in NORMALIZATIONS:
            raise OptionError(f"normalization must be one of {NORMALIZATIONS} or null, got {self.normalization!r}")
        if self.select_metric not in SELECT_METRICS:
            raise OptionError(f"select_metric must be one of {SELECT_METRICS}, got {self.select_metric!r}")
        for key, choices in (("select_on", SELECT_ON), ("select_scope", SELECT_SCOPES), ("final_on_test", FINAL_ON_TEST),
                             ("class_weight_mode", CLASS_WEIGHT_MODES),
                             ("sampler", SAMPLERS), ("split", SPLITS)):
            value = str(getattr(self, key)).strip().lower()
            if value not in choices:
                raise OptionError(f"{key} must be one of {choices}, got {getattr(self, key)!r}")
            setattr(self, key, value)
        self.published = dict(self.published or {})
        for key, value in self.published.items():
            if key not in PUBLISHED_SETTINGS:
                raise OptionError(f"unknown published setting {key!r}; known: {', '.join(PUBLISHED_SETTINGS)}")
            if value not in PUBLISHED_SETTINGS[key]:
                raise OptionError(f"published setting {key} must be one of {PUBLISHED_SETTINGS[key]}, got {value!r}")
        if self.sampler == "published-2025" and (self.split != "easier2025" or self.select_on != "validation"):
            raise OptionError("sampler published-2025 is the 2025 code's loader over its own training file: it needs "
                              "split easier2025 and select_on validation (recipe easier2025-published)")
        for key in ("mean", "std"):
            value = getattr(self, key)
            if value is not None:
                if not isinstance(value, (list, tuple)) or len(value) != 3:
                    raise OptionError(f"{key} must be three numbers (R, G, B) or null, got {value!r}")
                setattr(self, key, [float(v) for v in value])
        if self.std is not None and min(self.std) <= 0:
            raise OptionError(f"std must be positive, got {self.std}")
        if self.region not in ("full", "upper", "lower"):
            raise OptionError(f"region must be full, upper or lower, got {self.region!r}")
        if not 0 <= _number("val_fraction", self.val_fraction) < 1:
            raise OptionError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        for key in ("image_size", "batch_size", "seed", "folds"):
            setattr(self, key, _number(key, getattr(self, key), int))
        if self.image_size < 8 or self.batch_size < 1 or self.folds < 2:
            raise OptionError(f"need image_size >= 8, batch_size >= 1 and folds >= 2, got {self.image_size}, {self.batch_size}, {self.folds}")
        self.val_fraction = float(self.val_fraction)
        self.class_weights, self.hflip = bool(self.class_weights), bool(self.hflip)
        if not isinstance(self.fused_optimizer, bool):
            raise OptionError(f"fused_optimizer must be true or false, got {self.fused_optimizer!r}")
        self.precision, self.channels_last = check_precision_options(self.precision, self.channels_last)

    @property
    def optimistic(self) -> bool:
        """True when the checkpoint is chosen on the test fold (``select_on: test``): its test figures are optimistic."""
        return self.select_on == "test" and not self.is_baseline

    def setting(self, key: str):
        """The value of a :data:`PUBLISHED_SETTINGS` key in force: the recipe's ``published`` value under a published
        protocol (``select_on: test``, SLTAT; ``split: easier2025``, the 2025 code) for a recipe that trains, signfer's own otherwise (M0 / E0 were
        evaluated by separate testing notebooks, without these conventions)."""
        default = PUBLISHED_SETTINGS[key][0]
        published = self.select_on == "test" or self.split == "easier2025"  # the SLTAT / the 2025 published protocol
        return self.published.get(key, default) if published and not self.is_baseline else default

    @property
    def final_is_last_epoch(self) -> bool:
        """True when the test fold is evaluated with the last epoch's weights (``select_on: test`` and ``final_on_test: last``)."""
        return self.select_on == "test" and self.final_on_test == "last" and not self.is_baseline

    @property
    def is_baseline(self) -> bool:
        """No training stage: the pretrained model is evaluated as it is (M0 / E0)."""
        return sum(s.epochs for s in self.stages) == 0

    def class_names(self) -> tuple[str, ...]:
        from signfer.data.labels import get_classes

        return get_classes(self.classes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        return cls(**_check_keys(data, cls, "recipe"))


def _bool_or_auto(value, what: str):
    if value is None or isinstance(value, bool):
        return "auto" if value is None else value
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise OptionError(f"{what} must be auto, true or false, got {value!r}")


def check_precision_options(precision, channels_last) -> tuple[str, bool | str]:
    """``precision`` lower-case (one of :data:`PRECISIONS`) and ``channels_last`` as True / False / ``"auto"``; bad values raise."""
    p = str(precision if precision is not None else "auto").strip().lower()
    if p not in PRECISIONS:
        raise OptionError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return p, _bool_or_auto(channels_last, "channels_last")


def _check_keys(data: dict, cls, what: str) -> dict:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise OptionError(f"unknown {what} field(s) {unknown}; known: {', '.join(sorted(known))}")
    return dict(data)


def _read(name_or_path: str, seen: tuple[str, ...] = ()) -> dict:
    data = load_yaml_config("recipes", name_or_path)
    if set(data) == {"name"}:
        raise OptionError(f"recipe {name_or_path!r} is empty: a recipe needs 'arch' and 'stages', or 'extends: NAME' and the fields it changes")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if parent in seen or parent == data.get("name"):
        raise OptionError(f"recipe {name_or_path!r}: 'extends' loops through {parent!r}")
    base = _read(parent, seen + (str(name_or_path),))
    base.update(data)  # stages, dicts and lists are replaced as a whole
    return base


def _parse_value(text: Any, key: str = "") -> Any:
    return parse_yaml(text, f"--set {key}".strip()) if isinstance(text, str) else text


def apply_overrides(data: dict, overrides: dict[str, Any] | list[str] | None) -> dict:
    """A copy of the recipe dict ``data`` with dotted-path overrides applied.

    ``overrides``: ``{"image_size": 64, "stages.0.epochs": 1, "stages.*.lr": 0.01}`` or a list
    of ``"key=value"`` strings (values parsed as YAML). ``*`` addresses every element of a list.
    Unknown keys raise ``ValueError`` when the recipe is built.
    """
    out = copy.deepcopy(data)
    if not overrides:
        return out
    if isinstance(overrides, (list, tuple)):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise OptionError(f"override must look like key=value, got {item!r}")
            key, value = item.split("=", 1)
            pairs[key.strip()] = value
        overrides = pairs
    for key, value in overrides.items():
        _set_path(out, key.split("."), _parse_value(value, key), key)
    return out


def _set_path(node: Any, parts: list[str], value: Any, full: str) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*":
            targets = range(len(node))
        elif head.lstrip("-").isdigit() and -len(node) <= int(head) < len(node):
            targets = [int(head)]
        else:
            raise OptionError(f"override {full!r}: {head!r} is not an index of a list of {len(node)}")
        for i in targets:
            if rest:
                _set_path(node[i], rest, value, full)
            else:
                node[i] = copy.deepcopy(value)
        return
    if not isinstance(node, dict):
        raise OptionError(f"override {full!r}: cannot set {head!r} inside a {type(node).__name__}")
    if rest:
        if head not in node or node[head] is None:
            node[head] = {}
        _set_path(node[head], rest, value, full)
    else:
        node[head] = value


def load_recipe(name_or_path: str, overrides: dict[str, Any] | list[str] | None = None) -> Recipe:
    """The recipe ``signfer/configs/recipes/<name>.yaml`` (or a YAML file), with ``extends`` resolved and ``overrides`` applied."""
    data = apply_overrides(_read(str(name_or_path)), overrides)
    try:
        return Recipe.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise OptionError(f"recipe {name_or_path!r}: {exc}") from None


def list_recipes() -> list[str]:
    """Names of the shipped recipes."""
    return list_configs("recipes")
