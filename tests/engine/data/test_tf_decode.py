"""TensorFlow's image ops give Pillow's pixels (engine.data.tf_decode): each file's decoder is chosen once
from its header, ordinary PNG and JPEG decode without Python, the rest go to Pillow, broken files are named."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tapedeck.engine.data import image_folder
from tapedeck.engine.data.tf_decode import JPEG, PILLOW, PNG, RESIZED, decoded_rows, file_kinds, graph_decoder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file per kind a folder may hold, name -> (path, the decoder its header calls for)."""
    folder = tmp_path_factory.mktemp("kinds")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (21, 17, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (21, 17), dtype=np.uint8)
    made = {}

    def save(name, image, kind, **options):
        image.save(folder / name, **options)
        made[name] = (folder / name, kind)

    save("rgb.png", Image.fromarray(rgb), PNG)
    save("rgba.png", Image.fromarray(np.dstack([rgb, grey])), PNG)
    save("grey.png", Image.fromarray(grey), PNG)
    save("grey_alpha.png", Image.fromarray(np.dstack([grey, grey[::-1]]), "LA"), PNG)
    save("palette.png", Image.fromarray(rgb).quantize(40), PNG)
    save("palette_4bit.png", Image.fromarray(rgb).quantize(16), PNG, bits=4)
    save("one_bit.png", Image.fromarray(grey > 128), PNG)
    save("rgb.jpg", Image.fromarray(rgb), JPEG, quality=90)
    save("grey.jpg", Image.fromarray(grey), JPEG, quality=90)
    save("progressive.jpg", Image.fromarray(rgb), JPEG, quality=90, progressive=True)
    save("sixteen_bit.png", Image.fromarray(grey.astype(np.uint16) * 257), PILLOW)
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), PILLOW)
    save("picture.bmp", Image.fromarray(rgb), PILLOW)
    save("picture.gif", Image.fromarray(rgb), PILLOW)
    cut = folder / "cut.png"
    cut.write_bytes((folder / "rgb.png").read_bytes()[:400])
    made["cut.png"] = (cut, PILLOW)
    cut_jpeg = folder / "cut.jpg"
    cut_jpeg.write_bytes((folder / "rgb.jpg").read_bytes()[:-40])
    made["cut.jpg"] = (cut_jpeg, PILLOW)
    (folder / "empty.png").write_bytes(b"")
    made["empty.png"] = (folder / "empty.png", PILLOW)
    return made


def test_each_files_decoder_is_chosen_from_its_header(files):
    names = sorted(files)
    kinds = file_kinds([files[n][0] for n in names], (21, 17))
    assert dict(zip(names, kinds.tolist())) == {n: files[n][1] for n in names}
    resized = file_kinds([files[n][0] for n in names], (21, 16))   # the header's size is not the target's
    assert dict(zip(names, resized.tolist())) == {n: files[n][1] and files[n][1] + RESIZED for n in names}


def _pillow(path, mode, size):
    image, reason = image_folder._decode(path, mode, size)
    assert image is not None, reason
    return image.reshape(size[0], size[1], -1)


def _decoded(paths, mode, size):
    decode = graph_decoder(paths, file_kinds(paths, size), mode, size)   # no Pillow: PNG and JPEG only
    out = {}
    for positions, images in decoded_rows(decode, np.arange(len(paths))):
        out.update(zip(positions.tolist(), images))
    return out


@pytest.mark.parametrize("mode", ["RGB", "L"])
@pytest.mark.parametrize("size", [(21, 17), (21, 40), (9, 17), (30, 29), (12, 33), (40, 8)],
                         ids=["same", "wider", "shorter", "larger", "shorter-wider", "taller-narrower"])
def test_tensorflow_gives_pillows_pixels_to_the_bit(files, mode, size):
    """Same size, one side changed, both larger, and one side down while the other grows: every PNG and
    JPEG (libjpeg's accurate DCT) decodes, converts and resizes to exactly Pillow's bytes."""
    paths = [path for path, kind in files.values() if kind != PILLOW]
    got = _decoded(paths, mode, size)
    assert sorted(got) == list(range(len(paths)))
    for i, path in enumerate(paths):
        np.testing.assert_array_equal(got[i], _pillow(path, mode, size), err_msg=path.name)


def test_shrinking_both_sides_stays_within_one_level_of_pillow(files):
    paths = [path for path, kind in files.values() if kind != PILLOW]
    got = _decoded(paths, "RGB", (8, 7))
    for i, path in enumerate(paths):
        difference = np.abs(got[i].astype(int) - _pillow(path, "RGB", (8, 7)).astype(int))
        assert difference.max() <= 1, path.name


def test_only_the_files_tensorflow_cannot_decode_call_python(files):
    paths = [path for path, _ in files.values()]
    kinds = file_kinds(paths, (21, 17))
    with pytest.raises(ValueError, match="pillow_one"):
        graph_decoder(paths, kinds, "RGB", (21, 17))   # a BMP, a GIF, 16-bit: Pillow needed
    asked = []

    def pillow_one(row):
        asked.append(row)
        return _pillow(paths[row], "RGB", (21, 17))

    decode = graph_decoder(paths, kinds, "RGB", (21, 17), pillow_one)
    rows = np.flatnonzero([name not in ("cut.png", "cut.jpg", "empty.png") for name in files])
    got = {int(p) for positions, _ in decoded_rows(decode, rows) for p in positions}
    assert got == set(range(len(rows)))
    assert sorted(asked) == sorted(int(r) for r in rows if kinds[r] == PILLOW)


def test_decode_files_names_the_broken_ones_with_pillows_reason(files, tmp_path):
    paths = [path for path, _ in files.values()]
    broken = []
    pixels, keep, kinds = image_folder.decode_files(paths, "RGB", (21, 17), paths[0].parent, broken)
    assert [p.name for p, k in zip(paths, keep) if not k] == ["cut.png", "cut.jpg", "empty.png"]
    assert len(broken) == 3 and broken[0].startswith("cut.png (") and broken[2].startswith("empty.png (")
    for path, image, kept in zip(paths, pixels, keep):
        if kept:
            np.testing.assert_array_equal(image, _pillow(path, "RGB", (21, 17)), err_msg=path.name)
    assert image_folder.decode_files(paths, "RGB", (21, 17), paths[0].parent, [], keep_pixels=False)[0] is None
