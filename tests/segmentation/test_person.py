"""The person model on real photos (Debian's opencv-doc), its files' checks, and the garment boxes it gives.

Expected boxes were drawn by hand on the pictures (looked at with the boxes drawn in); a box
matches when its IoU with the hand-drawn one is at least ``TOLERANCE`` (0.75), which leaves room
for where a sleeve or a hem is judged to end.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from street2shop.segmentation.garment_parts import PARTS, part_boxes, segment_parts
from street2shop.segmentation.person import PersonModel
from street2shop.segmentation.person_files import (
    FILES,
    SETUP_COMMAND,
    PersonModelMissing,
    extract_person_models,
    installed,
    person_model_file,
    person_models_dir,
)
from real_photos import read_rgb

TOLERANCE = 0.75

#: Hand-drawn person boxes (x0, y0, x1, y1): hair to shoes, hand to hand (the ball in hand counts as held).
PERSON_BOXES = {
    "messi5.jpg": (72, 62, 447, 333),
    "basketball1.png": (37, 82, 180, 476),
    "basketball2.png": (36, 80, 180, 478),
}
#: Hand-drawn garment boxes: the T-shirt and the jeans of the man on the left; the footballer's jersey.
GARMENT_BOXES = {
    ("basketball1.png", "top"): (37, 140, 162, 294),
    ("basketball1.png", "bottom"): (40, 280, 142, 462),
    ("basketball2.png", "top"): (37, 138, 160, 294),
    ("basketball2.png", "bottom"): (40, 282, 140, 466),
    ("messi5.jpg", "top"): (150, 105, 315, 248),
}
#: Points on a garment (x, y): its segment must hold them.
ON_GARMENT = {
    ("basketball1.png", "top"): (70, 250),  # T-shirt, below the folded arms
    ("basketball1.png", "bottom"): (75, 360),  # left leg of the jeans
    ("messi5.jpg", "top"): (230, 190),  # jersey's front
    ("messi5.jpg", "bottom"): (270, 250),  # shorts
}
#: Messi's shorts: his bottom box (hips to ankles, the trousers' reach) must hold them.
MESSI_SHORTS = (220, 215, 340, 280)


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def inside(inner, outer) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


@pytest.fixture(scope="module")
def model() -> PersonModel:
    return PersonModel()


@pytest.fixture(scope="module")
def found(model):
    return {name: (read_rgb(name), model.find(read_rgb(name))) for name in PERSON_BOXES}


# --- files ----------------------------------------------------------------------------------------


def test_the_set_up_installed_the_expected_files():
    assert installed(), f"run {SETUP_COMMAND}"
    for name in FILES:
        assert person_model_file(name).parent == person_models_dir()


def test_a_missing_file_is_a_clear_error_naming_the_set_up_command(tmp_path):
    with pytest.raises(PersonModelMissing, match="make person-models") as caught:
        PersonModel(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_a_file_with_other_bytes_is_refused(tmp_path):
    for name in FILES:
        shutil.copyfile(person_model_file(name), tmp_path / person_model_file(name).name)
    victim = tmp_path / person_model_file("pose_landmark_full").name
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(PersonModelMissing, match="SHA-256"):
        PersonModel(tmp_path)


def test_files_are_extracted_from_a_wheel_and_checked(tmp_path):
    import zipfile

    wheel = tmp_path / "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, (member, _) in FILES.items():
            archive.write(person_model_file(name), member)
        archive.writestr("mediapipe/modules/other/unused.tflite", b"not wanted")
    written = extract_person_models(wheel, tmp_path / "out")
    assert sorted(path.name for path in written) == sorted(path.name for path in (tmp_path / "out").iterdir())
    assert installed(tmp_path / "out")

    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as archive:
        for member, _ in FILES.values():
            archive.writestr(member, b"tampered")
    with pytest.raises(PersonModelMissing, match="SHA-256"):
        extract_person_models(bad, tmp_path / "other")
    assert not (tmp_path / "other" / "pose_detection.tflite").exists()


def test_the_resources_init_script_pins_the_same_files():
    import ast
    from pathlib import Path

    from street2shop.segmentation import person_files

    script = Path(__file__).resolve().parents[2] / "code-env" / "python" / "spec" / "resources_init.py"
    values = {}
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    assert values["MEDIAPIPE_VERSION"] == person_files.MEDIAPIPE_VERSION
    assert values["WHEEL_PLATFORM"] == person_files.WHEEL_PLATFORM
    assert values["ENV_VAR"] == person_files.ENV_VAR
    assert values["FILES"] == dict(person_files.FILES.values())


# --- the person -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PERSON_BOXES))
def test_the_person_box_holds_the_person(found, name):
    rgb, person = found[name]
    assert person is not None
    assert iou(person.box, PERSON_BOXES[name]) >= TOLERANCE, person.box
    x0, y0, x1, y1 = person.box
    visible = person.landmarks[person.landmarks[:, 2] >= 0.5]
    assert len(visible) >= 25
    height, width = rgb.shape[:2]
    # A landmark may lie past the picture's edge (a shoe cut off); the box stops at the edge.
    visible = visible[(visible[:, 0] < width) & (visible[:, 1] < height) & (visible[:, :2] >= 0).all(axis=1)]
    assert (visible[:, 0] >= x0 - 1).all() and (visible[:, 0] <= x1 + 1).all()
    assert (visible[:, 1] >= y0 - 1).all() and (visible[:, 1] <= y1 + 1).all()
    # Most of the person mask lies in the hand-drawn box, and it is not the whole picture.
    mask = person.mask >= 0.5
    hx0, hy0, hx1, hy1 = PERSON_BOXES[name]
    assert mask[hy0:hy1, hx0:hx1].sum() >= 0.9 * mask.sum()
    assert 0.05 < mask.mean() < 0.6


def test_the_left_man_is_found_not_his_cut_off_partner(found):
    _, person = found["basketball1.png"]
    shoulders_x = [person.point("left_shoulder")[0], person.point("right_shoulder")[0]]
    assert max(shoulders_x) < 200  # the partner in the patterned shirt stands at x > 430


@pytest.mark.parametrize("name", ["apple.jpg", "orange.jpg", "butterfly.jpg"])
def test_a_picture_without_a_person_gives_none(model, name):
    assert model.find(read_rgb(name)) is None


def test_bad_input_is_a_clear_error(model):
    from street2shop.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="RGB"):
        model.find(np.zeros((64, 64), np.uint8))


# --- the garments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PERSON_BOXES))
def test_garment_boxes_sit_inside_the_person_box_in_body_order(found, name):
    rgb, person = found[name]
    boxes = part_boxes(person, rgb.shape[1], rgb.shape[0])
    assert list(boxes) == list(PARTS)
    for box in boxes.values():
        assert inside(box, person.box)
    top, bottom, full = boxes["top"], boxes["bottom"], boxes["full"]
    assert (top[1] + top[3]) / 2 < (bottom[1] + bottom[3]) / 2
    assert inside(top, full) and inside(bottom, full)


@pytest.mark.parametrize("key", sorted(GARMENT_BOXES))
def test_garment_boxes_match_the_hand_drawn_ones(found, key):
    name, part = key
    rgb, person = found[name]
    box = part_boxes(person, rgb.shape[1], rgb.shape[0])[part]
    assert iou(box, GARMENT_BOXES[key]) >= TOLERANCE, box


def test_the_bottom_box_holds_the_footballers_shorts(found):
    rgb, person = found["messi5.jpg"]
    assert inside(MESSI_SHORTS, part_boxes(person, rgb.shape[1], rgb.shape[0])["bottom"])


@pytest.fixture(scope="module")
def parts(found):
    return {name: {p.part: p for p in segment_parts(rgb, person)} for name, (rgb, person) in found.items()}


def test_grabcut_cuts_each_garment_out_inside_its_box(found, parts):
    for (name, part), (x, y) in ON_GARMENT.items():
        garment = parts[name][part]
        assert garment.segmentation.mask[y, x] == 255, (name, part)
        assert inside(garment.segmentation.box, garment.box)
        assert garment.segmentation.mask.shape == found[name][0].shape[:2]
    # Outside the person there is no garment: the wall right of the left man, the crowd above Messi.
    assert not parts["basketball1.png"]["top"].segmentation.mask[:, 200:].any()
    assert parts["messi5.jpg"]["full"].segmentation.mask[:60].sum() == 0


def test_a_part_crop_is_the_garment_on_white(found, parts):
    rgb, _ = found["basketball1.png"]
    crop = parts["basketball1.png"]["top"].crop(rgb)
    assert crop.ndim == 3 and crop.shape[2] == 3
    x0, y0, x1, y1 = parts["basketball1.png"]["top"].segmentation.box
    assert crop.shape[0] <= (y1 - y0) * 1.2 and crop.shape[1] <= (x1 - x0) * 1.2
    assert (crop == 255).all(axis=2).mean() > 0.1  # background replaced by white
