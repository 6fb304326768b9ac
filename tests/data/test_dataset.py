"""FaceDataset and the crop cache: tensors, labels, seeded flips, no re-detection on reuse."""

import os

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from signfer.data.cache import CropCache
from signfer.data.dataset import FaceDataset
from signfer.data.feph import load_feph
from signfer.data.labels import EMOTIONS7, EMOTIONS8
from signfer.io import InputError, write_image
from signfer.models.spec import ModelSpec


@pytest.fixture(scope="module")
def feph_df(synthetic_feph):
    return load_feph(synthetic_feph)[0]


def test_items_are_float_chw_with_label_indices(feph_df, tmp_path):
    ds = FaceDataset(feph_df, EMOTIONS7, size=32, cache_dir=tmp_path)
    assert len(ds) == 84
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (3, 32, 32) and 0 <= x.min() and x.max() <= 1
    assert isinstance(y, int) and EMOTIONS7[y] == feph_df["label"].iloc[0]
    assert [EMOTIONS7[ds[i][1]] for i in range(0, 84, 9)] == list(feph_df["label"].iloc[0:84:9])
    # preset "none" = the whole image resized: the item is the source image scaled to [0, 1]
    src = cv2.cvtColor(cv2.imread(feph_df["path"].iloc[0]), cv2.COLOR_BGR2RGB)
    want = cv2.resize(src, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    assert np.abs(x.numpy().transpose(1, 2, 0) - want).max() < 2.5 / 255
    # the RGBA frame gives 3 channels like the others
    rgba = [i for i, p in enumerate(feph_df["path"]) if cv2.imread(p, cv2.IMREAD_UNCHANGED).shape[2] == 4]
    assert ds[rgba[0]][0].shape == (3, 32, 32)
    assert list(ds.class_counts()) == [12] * 7
    ds8 = FaceDataset(feph_df, 8, size=32, cache_dir=tmp_path)
    assert ds8.class_names == EMOTIONS8 and ds8.class_counts()[1] == 0
    with pytest.raises(ValueError, match="not among the classes"):
        FaceDataset(feph_df.assign(label="contempt"), EMOTIONS7, cache_dir=tmp_path)


def test_model_normalisation_is_applied(feph_df, tmp_path):
    spec = ModelSpec("mobilenetv2_100", list(EMOTIONS7), input_size=32, normalization="caffe")
    ds = FaceDataset(feph_df, EMOTIONS7, size=32, normalize=spec.normalize, cache_dir=tmp_path)
    x, _ = ds[3]
    np.testing.assert_allclose(x.numpy(), spec.normalize(ds.crop(3)[None])[0], rtol=0, atol=1e-5)
    assert x.min() < -50  # caffe: BGR minus ImageNet means on 0-255


def test_hflip_is_random_seeded_and_training_only(feph_df, tmp_path):
    plain = FaceDataset(feph_df, EMOTIONS7, size=32, cache_dir=tmp_path)
    flip = FaceDataset(feph_df, EMOTIONS7, size=32, hflip=True, cache_dir=tmp_path)

    def flips(ds):
        out = []
        for i in range(len(ds)):
            x = ds[i][0].numpy()
            base = plain[i][0].numpy()
            assert np.array_equal(x, base) or np.array_equal(x, base[:, :, ::-1])
            out.append(not np.array_equal(x, base))
        return out

    torch.manual_seed(0)
    assert not any(flips(plain))
    torch.manual_seed(0)
    a = flips(flip)
    torch.manual_seed(0)
    b = flips(flip)
    torch.manual_seed(1)
    c = flips(flip)
    assert a == b and a != c and 20 < sum(a) < 64


def test_dataloader_workers_repeat_with_a_seeded_generator(feph_df, tmp_path):
    ds = FaceDataset(feph_df.iloc[:16], EMOTIONS7, size=16, hflip=True, cache_dir=tmp_path)
    ds.prepare()

    def run(seed):
        loader = DataLoader(ds, batch_size=8, shuffle=True, num_workers=2, generator=torch.Generator().manual_seed(seed))
        return torch.cat([x for x, _ in loader]), torch.cat([y for _, y in loader])

    x1, y1 = run(5)
    x2, y2 = run(5)
    x3, _ = run(6)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)


def test_cache_is_reused_without_detection(feph_df, tmp_path, monkeypatch):
    paths = list(feph_df["path"].iloc[:6])
    cache = CropCache("easier2025", size=48, cache_dir=tmp_path)
    first = cache.prepare(paths)
    assert (first["status"] == "whole_image").all()  # synthetic frames hold no detectable face: used whole
    assert len(list(cache.root.rglob("*.png"))) == 6

    import signfer.faces.preprocessing as pipeline

    def no_detection(*a, **k):
        raise AssertionError("face detection ran although the crop was cached")

    monkeypatch.setattr(pipeline, "preprocess_image", no_detection)
    again = CropCache("easier2025", size=48, cache_dir=tmp_path)
    assert again.root == cache.root
    for p in paths:
        crop, meta = again.get_with_meta(p)
        assert crop.shape == (48, 48, 3) and meta["status"] == "whole_image" and meta["source"] == p
    # another override, region or size is another cache entry
    for other in (CropCache("easier2025", size=48, overrides={"colour": "none"}, cache_dir=tmp_path),
                  CropCache("easier2025", size=48, region="upper", cache_dir=tmp_path),
                  CropCache("easier2025", size=32, cache_dir=tmp_path)):
        assert other.root != cache.root
        with pytest.raises(AssertionError, match="detection ran"):
            other.get(paths[0])


def test_changed_source_file_is_recomputed(tmp_path, astronaut):
    src = tmp_path / "img.png"
    write_image(src, astronaut[:200, 100:300])
    cache = CropCache("none", size=24, cache_dir=tmp_path / "cache")
    a = cache.get(src)
    write_image(src, 255 - astronaut[:200, 100:300])
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))
    b = cache.get(src)
    assert np.abs(a.astype(int) + b.astype(int) - 255).mean() < 3  # the inverted image, not the stale crop
    assert len(list(cache.root.rglob("*.png"))) == 2


def test_real_face_is_detected_and_recorded(tmp_path, astronaut):
    src = tmp_path / "astronaut.png"
    write_image(src, astronaut[:300, 100:400])  # the face is at about x 181-268, y 62-172 of the full photo
    crop, meta = CropCache("easier2025", size=64, cache_dir=tmp_path / "c").get_with_meta(src)
    assert meta["status"] == "face" and crop.shape == (64, 64, 3)
    x1, y1, x2, y2 = meta["box"]
    assert 50 < (x1 + x2) / 2 < 200 and 60 < (y1 + y2) / 2 < 180  # around the astronaut's face
    upper = CropCache("easier2025", size=64, region="upper", cache_dir=tmp_path / "c").get(src)
    assert upper.shape == (32, 64, 3)


def test_bad_image_names_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    df = pd.DataFrame({"path": [str(bad)], "label": ["happy"]})
    ds = FaceDataset(df, EMOTIONS7, size=16, cache_dir=tmp_path / "c")
    with pytest.raises(InputError, match="bad.png"):
        ds[0]
    report = ds.prepare()
    assert report["status"].tolist() == ["error"] and "not a readable image" in report["reason"].iloc[0]
    skip = FaceDataset(df.assign(path=str(tmp_path / "blank.png")), EMOTIONS7, preset="easier2025",
                       overrides={"no_face": "skip"}, size=16, cache_dir=tmp_path / "c")
    write_image(tmp_path / "blank.png", np.full((60, 60, 3), 128, np.uint8))
    with pytest.raises(InputError, match="no face found"):
        skip[0]


def test_a_batch_is_the_items_one_by_one_with_the_same_flips(feph_df, tmp_path):
    """__getitems__ (one normalisation of the stacked batch) equals item-by-item loading, flips included."""
    spec = ModelSpec("mobilenetv2_100", list(EMOTIONS7), input_size=24, normalization="imagenet", preset="none")
    ds = FaceDataset(feph_df.iloc[:12], EMOTIONS7, size=24, hflip=True, normalize=spec.normalize, cache_dir=tmp_path)
    order = [7, 2, 11, 0, 5, 5, 9]
    torch.manual_seed(3)
    one_by_one = [ds[i] for i in order]
    torch.manual_seed(3)
    batch = ds.__getitems__(order)
    assert [y for _, y in batch] == [y for _, y in one_by_one]
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(batch, one_by_one))
    flipped = [not torch.equal(x, torch.from_numpy(spec.normalize(ds.crop(i)[None])[0])) for (x, _), i in zip(batch, order)]
    assert 0 < sum(flipped) < len(order)  # some flipped, some not: the comparison above saw both
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(1))
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 24, 24) and x.dtype == torch.float32 and y.dtype == torch.int64


def test_decoded_crops_are_kept_in_memory_within_the_budget(feph_df, tmp_path, monkeypatch):
    ds = FaceDataset(feph_df.iloc[:6], EMOTIONS7, size=16, cache_dir=tmp_path, memory_mb=3 * 16 * 16 * 3 / 2**20)
    first = [ds.crop(i) for i in range(6)]
    reads = []
    real_get = ds.cache.get
    monkeypatch.setattr(ds.cache, "get", lambda p: reads.append(p) or real_get(p))
    again = [ds.crop(i) for i in range(6)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert len(reads) == 3  # three crops fit the budget; the other three come from the disk cache again
    assert not again[0].flags.writeable  # the kept crop cannot be changed by a caller
    off = FaceDataset(feph_df.iloc[:2], EMOTIONS7, size=16, cache_dir=tmp_path, memory_mb=0)
    off.crop(0)
    assert off._memory == {}
