import pytest
import torch
from vl_ground import HELD_OUT_PAIRS, check_box, decode_region, generate_scenes, iou, training_view
from vl_ground.boxes import box_to_cells, box_to_location, location_to_box, region_to_box
from vl_ground.metrics import caption_attribute_f1, grounding_accuracy, vqa_accuracy
from vl_ground.scenes import mentions_held_out


def test_iou_and_missing_box():
    assert iou((0, 0, 2, 2), (0, 0, 2, 2)) == 1.0
    assert iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(1 / 3)
    assert iou(None, (0, 0, 1, 1)) == 0.0
    assert grounding_accuracy([None, (0, 0, 8, 8)], [(0, 0, 8, 8), (0, 0, 8, 8)]) == 0.5


def test_check_box_clips_and_rejects_with_the_field():
    assert check_box((-5, 2, 70, 30), 64, 64) == (0.0, 2.0, 64.0, 30.0)
    with pytest.raises(
        ValueError, match=r"examples\[3\].box=\(5, 0, 2, 4\) is invalid; allowed: x0 < x1"
    ):
        check_box((5, 0, 2, 4), 64, 64, "examples[3].box")
    with pytest.raises(ValueError, match="overlapping the 64x64 image"):
        check_box((70, 70, 80, 80), 64, 64)


def test_grid_cells_locations_and_region_decoding():
    cells = box_to_cells((9, 9, 23, 23), 64, 64, 8)
    assert cells.view(8, 8)[1:3, 1:3].all() and cells.sum() == 4
    first, last = box_to_location((9, 9, 23, 23), 64, 64, 8)
    assert location_to_box(first, last, 64, 64, 8) == (8, 8, 24, 24)
    assert location_to_box(last, first, 64, 64, 8) is None
    scores = torch.full((64,), -1.0)
    scores[cells] = 5.0
    scores[63] = 0.5  # an isolated cell above the median but below the threshold
    region, mass = decode_region(scores, 8)
    assert torch.equal(region, cells) and 0.9 < mass <= 1.0
    assert region_to_box(region, 64, 64, 8) == (8.0, 8.0, 24.0, 24.0)


def test_scenes_are_seeded_and_training_view_hides_held_out_pairs():
    a, b = list(generate_scenes(50, seed=1)), list(generate_scenes(50, seed=1))
    assert [s.caption for s in a] == [s.caption for s in b]
    assert any(s.held_out_objects() for s in a)
    for scene in a:
        view = training_view(scene)
        texts = [
            view.caption,
            *[e for e, _ in view.expressions],
            *[q + " " + ans for q, ans in view.questions],
        ]
        assert not any(mentions_held_out(t) for t in texts)
        for expr, index in scene.expressions:
            obj = scene.objects[index]
            assert obj.colour in expr and obj.shape in expr
    colour, shape = HELD_OUT_PAIRS[0]
    assert mentions_held_out(f"the small {colour} {shape}")
    with pytest.raises(ValueError, match="image_size=60"):
        list(generate_scenes(1, image_size=60, grid=8))


def test_metrics():
    assert vqa_accuracy(["Yes", "red."], ["yes", "blue"]) == 0.5
    f1 = caption_attribute_f1(
        ["a small red circle and a large blue square"],
        ["a small red circle and a small blue square"],
    )
    assert f1 == pytest.approx(0.5)
