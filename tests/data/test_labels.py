"""Label vocabularies and the maps between them: a wrong order here silently ruins every number."""

import numpy as np
import pytest

from signfer.data import labels as L

# Ground truth copied from the sources, not from signfer: HSEmotion's idx_to_class
# (face-emotion-recognition, facial_emotions.py) and the FePh / AffectNet / FER2013 docs.
HSEMOTION_7_SOURCE = {0: "Anger", 1: "Disgust", 2: "Fear", 3: "Happiness", 4: "Neutral", 5: "Sadness", 6: "Surprise"}
HSEMOTION_8_SOURCE = {0: "Anger", 1: "Contempt", 2: "Disgust", 3: "Fear", 4: "Happiness", 5: "Neutral", 6: "Sadness", 7: "Surprise"}
FEPH_SOURCE = {0: "neutral", 1: "anger", 2: "disgust", 3: "fear", 4: "happy", 5: "sad", 6: "surprise", 7: "none"}
AFFECTNET_SOURCE = {0: "Neutral", 1: "Happy", 2: "Sad", 3: "Surprise", 4: "Fear", 5: "Disgust", 6: "Anger", 7: "Contempt"}
FER2013_SOURCE = {0: "Angry", 1: "Disgust", 2: "Fear", 3: "Happy", 4: "Sad", 5: "Surprise", 6: "Neutral"}

# Worked out by hand from the tables above: HSEmotion output index -> FePh code.
HSE7_TO_FEPH = {0: 1, 1: 2, 2: 3, 3: 4, 4: 0, 5: 5, 6: 6}
HSE8_TO_FEPH = {0: 1, 1: None, 2: 2, 3: 3, 4: 4, 5: 0, 6: 5, 7: 6}  # contempt has no FePh code
AFFECTNET_TO_HSE8 = {0: 5, 1: 4, 2: 6, 3: 7, 4: 3, 5: 2, 6: 0, 7: 1}
FER_TO_EMOTIONS7 = {0: 0, 1: 1, 2: 2, 3: 3, 4: 5, 5: 6, 6: 4}


def test_orders_match_the_sources():
    assert L.EMOTIONS7 == ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert L.EMOTIONS8 == ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert [L.canonical_label(HSEMOTION_7_SOURCE[i]) for i in range(7)] == list(L.HSEMOTION_7)
    assert [L.canonical_label(HSEMOTION_8_SOURCE[i]) for i in range(8)] == list(L.HSEMOTION_8)
    assert {k: L.canonical_label(v) for k, v in AFFECTNET_SOURCE.items()} == L.AFFECTNET_CODES
    assert {k: v for k, v in FEPH_SOURCE.items() if k < 7} == L.FEPH_CODES and L.FEPH_NONE_CODE == 7
    assert [L.canonical_label(FER2013_SOURCE[i]) for i in range(7)] == list(L.FER2013)


def _onehot(n, i):
    p = np.full(n, 0.01)
    p[i] = 1.0
    return p / p.sum()


@pytest.mark.parametrize("source,truth", [(L.HSEMOTION_7, HSE7_TO_FEPH), (L.HSEMOTION_8, HSE8_TO_FEPH)])
def test_each_hsemotion_output_maps_to_the_right_feph_class(source, truth):
    feph_order = [L.FEPH_CODES[c] for c in range(7)]  # FePh code order
    for idx, code in truth.items():
        mapped = L.map_probabilities(_onehot(len(source), idx), source, feph_order)
        assert mapped.shape == (7,) and mapped.sum() == pytest.approx(1.0, abs=1e-6)
        if code is None:  # contempt: dropped, the rest renormalised -> no winner
            assert mapped.max() - mapped.min() < 1e-6
        else:
            assert int(mapped.argmax()) == code, (idx, source[idx])
        assert L.index_map(source, feph_order)[idx] == (-1 if code is None else code)


def test_affectnet_and_fer2013_codes_map_to_the_right_model_outputs():
    affectnet = [L.AFFECTNET_CODES[c] for c in range(8)]
    assert {i: int(j) for i, j in enumerate(L.index_map(affectnet, L.HSEMOTION_8))} == AFFECTNET_TO_HSE8
    assert {i: int(j) for i, j in enumerate(L.index_map(L.FER2013_NAMES, L.EMOTIONS7))} == FER_TO_EMOTIONS7
    # a batch of FER2013 outputs carried to EMOTIONS7 keeps each row's winner
    probs = np.stack([_onehot(7, i) for i in range(7)])
    out = L.map_probabilities(probs, L.FER2013, L.EMOTIONS7)
    assert out.shape == (7, 7) and out.dtype == np.float32
    assert list(out.argmax(1)) == [FER_TO_EMOTIONS7[i] for i in range(7)]
    np.testing.assert_allclose(out[np.arange(7), out.argmax(1)], probs.max(1), rtol=1e-6)


def test_map_probabilities_drops_and_renormalises():
    p8 = np.array([0.1, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])  # contempt 0.3
    out = L.map_probabilities(p8, L.EMOTIONS8, L.EMOTIONS7)
    np.testing.assert_allclose(out, np.full(7, 0.1 / 0.7), rtol=1e-6)
    # a class the model does not know gets 0, the rest keeps its values
    p7 = np.array([0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    out = L.map_probabilities(p7[None], L.EMOTIONS7, L.EMOTIONS8)
    assert out.shape == (1, 8) and out[0, 1] == 0.0 and out[0, 0] == pytest.approx(0.4)
    # all mass on a dropped class -> uniform over the known target classes
    only_contempt = np.eye(8)[1]
    np.testing.assert_allclose(L.map_probabilities(only_contempt, L.EMOTIONS8, L.EMOTIONS7), np.full(7, 1 / 7), rtol=1e-6)
    with pytest.raises(ValueError, match="expected"):
        L.map_probabilities(np.ones((2, 5)), L.EMOTIONS7, L.EMOTIONS8)
    with pytest.raises(ValueError, match="no class in common"):
        L.map_probabilities(np.ones(1), ["contempt"], L.EMOTIONS7)


def test_aliases_and_vocabularies():
    for name, want in [("Angry", "anger"), ("anger", "anger"), (" happiness ", "happy"), ("Sadness", "sad"),
                       ("SURPRISED", "surprise"), ("fearful", "fear"), ("Contempt", "contempt"), ("disgusted", "disgust")]:
        assert L.canonical_label(name) == want
    with pytest.raises(KeyError, match="known names:.*anger"):
        L.canonical_label("bored")
    assert L.get_classes(7) == L.EMOTIONS7 and L.get_classes("8") == L.EMOTIONS8
    assert L.get_classes("fer2013") == L.FER2013
    assert L.get_classes(["Happiness", "sad"]) == ("happy", "sad")
    assert L.get_classes("happy,sad") == ("happy", "sad")
    with pytest.raises(ValueError, match="twice"):
        L.get_classes(["angry", "anger"])
    with pytest.raises(ValueError, match="7 or 8"):
        L.get_classes(6)


def test_label_indices():
    np.testing.assert_array_equal(L.label_indices(["sad", "anger", "surprise"], L.EMOTIONS7), [5, 0, 6])
    with pytest.raises(ValueError, match="contempt"):
        L.label_indices(["contempt"], L.EMOTIONS7)
