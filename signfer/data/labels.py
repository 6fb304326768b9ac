"""One label vocabulary for signfer and explicit maps from every data set's and model's codes.

Inside signfer a label is always a class *name* from :data:`EMOTIONS7` or :data:`EMOTIONS8`
(lower case: ``anger``, ``contempt``, ``disgust``, ``fear``, ``happy``, ``neutral``, ``sad``,
``surprise``). Integer codes exist only at the borders: data set files (FePh, AffectNet) and
model outputs (HSEmotion, FER2013). Each border has one table here; everything else goes
through names, so a wrong index order cannot slip through silently.

Class-name tuples are immutable; compare them with ``tuple(x) == EMOTIONS7`` (a list never
equals a tuple).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from signfer.errors import OptionError, UnknownName

#: SLTAT 2022 classes, in HSEmotion's 7-class output order (alphabetical).
EMOTIONS7: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
#: AffectNet 8-class vocabulary (2025 paper), in HSEmotion's 8-class output order (alphabetical).
EMOTIONS8: tuple[str, ...] = ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")

#: FePh ``Facial_label`` codes (code 7 = "none of the above"; several digits = multi-label; empty = face not visible).
FEPH_CODES: dict[int, str] = {0: "neutral", 1: "anger", 2: "disgust", 3: "fear", 4: "happy", 5: "sad", 6: "surprise"}
FEPH_NONE_CODE = 7
#: The class name of FePh code 7 ("none of the seven expressions") where a policy keeps it as a class.
FEPH_NONE = "none"
#: The 2025 code's FePh classes in its output order (EASIER-EkmanClassifier ``FaceExpressionPhoenixDataset.idx_to_class``:
#: 0 neutral ... 6 surprise, 7 none): output i of its fine-tuned Linear(1280, 8) is FePh code i. Its index 7 is
#: AffectNet's "contempt" in the AffectNet label map, which is why the paper lists a "contempt" class on FePh.
FEPH8: tuple[str, ...] = ("neutral", "anger", "disgust", "fear", "happy", "sad", "surprise", FEPH_NONE)

#: AffectNet ``expression`` codes of the 8 expression classes.
AFFECTNET_CODES: dict[int, str] = {
    0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger", 7: "contempt",
}
#: AffectNet codes that are not expressions (never training labels).
AFFECTNET_OTHER_CODES: dict[int, str] = {8: "none", 9: "uncertain", 10: "no_face"}

#: Output index -> class of HSEmotion's 7-class AffectNet models (``*_7``: Anger, Disgust, Fear, Happiness, Neutral, Sadness, Surprise).
HSEMOTION_7: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
#: Output index -> class of HSEmotion's 8-class models (``*_8*``: Anger, Contempt, Disgust, Fear, Happiness, Neutral, Sadness, Surprise).
HSEMOTION_8: tuple[str, ...] = ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
#: Output index -> class of FER2013 models (angry, disgust, fear, happy, sad, surprise, neutral), in signfer names.
FER2013: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: The FER2013 names as that data set spells them (same order as :data:`FER2013`).
FER2013_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Named class orders, for ``--classes`` style options and :func:`get_classes`.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "emotions7": EMOTIONS7,
    "emotions8": EMOTIONS8,
    "hsemotion7": HSEMOTION_7,
    "hsemotion8": HSEMOTION_8,
    "fer2013": FER2013,
    "affectnet8": tuple(AFFECTNET_CODES[i] for i in range(8)),
    "affectnet7": tuple(AFFECTNET_CODES[i] for i in range(7)),
    "feph": tuple(FEPH_CODES[i] for i in range(7)),
    "feph8": FEPH8,
}

#: Every accepted spelling of a class name (lower case, any of the vocabularies above) -> signfer name.
ALIASES: dict[str, str] = {
    **{name: name for name in EMOTIONS8},
    FEPH_NONE: FEPH_NONE,
    "angry": "anger", "anger": "anger",
    "contemptuous": "contempt",
    "disgusted": "disgust",
    "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happiness": "happy", "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
}


def canonical_label(name: str) -> str:
    """The signfer class name for any accepted spelling (``"Angry"``, ``"happiness"``, ``"Sadness"``...).

    Raises ``KeyError`` listing the accepted names.
    """
    key = str(name).strip().lower().replace(" ", "_")
    if key in ALIASES:
        return ALIASES[key]
    raise UnknownName(f"unknown expression class {name!r}; known names: {', '.join(sorted(ALIASES))}")


def get_classes(classes: str | int | Sequence[str]) -> tuple[str, ...]:
    """A class order from a vocabulary name (``"emotions7"``), 7 / 8, or a sequence of (aliased) names."""
    if isinstance(classes, int) or (isinstance(classes, str) and classes.isdigit()):
        n = int(classes)
        if n not in (7, 8):
            raise OptionError(f"classes must be 7 or 8, got {n}")
        return EMOTIONS7 if n == 7 else EMOTIONS8
    if isinstance(classes, str):
        key = classes.strip().lower()
        if key in VOCABULARIES:
            return VOCABULARIES[key]
        if "," in key:
            return get_classes([c for c in key.split(",") if c.strip()])
        raise UnknownName(f"unknown class vocabulary {classes!r}; known: {', '.join(VOCABULARIES)}, 7, 8 or a comma-separated list")
    out = tuple(canonical_label(c) for c in classes)
    if len(set(out)) != len(out):
        raise OptionError(f"class list names a class twice: {list(classes)}")
    return out


def label_indices(labels: Iterable[str], class_names: Sequence[str]) -> np.ndarray:
    """Class names -> int64 indices into ``class_names``; raises ``ValueError`` naming unknown labels."""
    index = {c: i for i, c in enumerate(class_names)}
    labels = list(labels)
    unknown = sorted({str(l) for l in labels if l not in index})
    if unknown:
        raise OptionError(f"labels {unknown} are not among the classes {list(class_names)}")
    return np.fromiter((index[l] for l in labels), dtype=np.int64, count=len(labels))


def index_map(from_classes: Sequence[str], to_classes: Sequence[str]) -> np.ndarray:
    """For each index of ``from_classes``, its index in ``to_classes`` (-1 where the class is absent)."""
    target = {canonical_label(c): i for i, c in enumerate(to_classes)}
    return np.array([target.get(canonical_label(c), -1) for c in from_classes], dtype=np.int64)


def map_probabilities(probs, from_classes: Sequence[str], to_classes: Sequence[str]) -> np.ndarray:
    """Carry class probabilities into another vocabulary (the no-fine-tuning baselines M0 / E0).

    ``probs``: (N, len(from_classes)) or (len(from_classes),). Classes absent from
    ``to_classes`` are dropped, target classes the model does not know get 0, and each row is
    renormalised to sum 1. A row whose kept mass is 0 becomes uniform over the target classes
    the model knows. Names may be any accepted spelling (see :data:`ALIASES`).
    """
    p = np.asarray(probs, dtype=np.float64)
    single = p.ndim == 1
    p = np.atleast_2d(p)
    if p.ndim != 2 or p.shape[1] != len(from_classes):
        raise OptionError(f"probs has shape {np.shape(probs)}, expected (N, {len(from_classes)}) for classes {list(from_classes)}")
    mapping = index_map(from_classes, to_classes)
    out = np.zeros((p.shape[0], len(to_classes)), dtype=np.float64)
    for src, dst in enumerate(mapping):
        if dst >= 0:
            out[:, dst] += p[:, src]
    known = np.zeros(len(to_classes), bool)
    known[mapping[mapping >= 0]] = True
    if not known.any():
        raise OptionError(f"no class in common between {list(from_classes)} and {list(to_classes)}")
    mass = out.sum(axis=1, keepdims=True)
    empty = mass[:, 0] <= 0
    out[empty] = known / known.sum()
    mass[empty] = 1.0
    out = (out / mass).astype(np.float32)
    return out[0] if single else out
