import pytest
import torch
from PIL import Image
from vl_ground import (
    OBJECTIVES,
    GrillCollator,
    GrillModel,
    GrillProcessor,
    GrillTrainingArguments,
    ground,
    predict,
    vqa,
)


def test_processor_converts_modes_and_sizes(processor):
    grey = Image.new("L", (100, 50), 128)
    rgba = Image.new("RGBA", (64, 64), (255, 0, 0, 0))
    pixels = processor.images([grey, rgba])
    assert pixels.shape == (2, 3, 64, 64) and pixels.min() >= -1 and pixels.max() <= 1
    assert processor.scale_box((50, 0, 100, 50), (100, 50)) == (32.0, 0.0, 64.0, 64.0)
    with pytest.raises(ValueError, match=r"images\[0\]=str is invalid"):
        processor.images(["photo.png"])


def test_processor_refuses_long_expressions_and_save_load(processor, tmp_path):
    with pytest.raises(ValueError, match=r"expressions\[0\]=.* at most 32 tokens"):
        processor.text(["the red circle " * 20], strict=True, field="expressions")
    processor.save_pretrained(tmp_path)
    again = GrillProcessor.from_pretrained(tmp_path)
    assert again.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    assert (again.grid, again.image_size) == (8, 64)


def test_collator_rows(processor, examples):
    every = GrillCollator(processor, OBJECTIVES, seed=0, text_rows_per_image=None)(examples[:4])
    assert len(every["text_image"]) > 4
    collate = GrillCollator(processor, OBJECTIVES, seed=0)
    batch = collate(examples[:4])
    assert batch["pixel_values"].shape == (4, 3, 64, 64)
    assert batch["input_ids"].shape[0] == batch["labels"].shape[0] == len(batch["text_image"])
    assert set(batch["text_kind"].tolist()) <= set(range(len(OBJECTIVES)))
    assert batch["target_cells"].shape[1] == 64 and batch["target_cells"].any(1).all()


def test_forward_losses_and_alignment_gradient(model, processor, examples):
    batch = GrillCollator(processor, OBJECTIVES, seed=0, text_rows_per_image=None)(examples[:6])
    out = model.train()(**batch)
    assert torch.isfinite(out.loss) and out.caption_loss is not None
    assert out.align_contrastive_loss is not None and out.align_tokens_loss is not None
    out.loss.backward()
    assert model.region_proj.weight.grad.abs().sum() > 0
    assert model.extent_scale.grad is not None and model.extent_scale.grad != 0
    assert model.vision.embeddings.patch_embeddings.projection.weight.grad.abs().sum() > 0


def test_save_load_round_trip(model, processor, scenes, tmp_path):
    model.save_pretrained(tmp_path)
    again = GrillModel.from_pretrained(tmp_path).eval()
    images = [s.image for s in scenes[:3]]
    first = ground(model, processor, images, ["the red circle"] * 3)
    second = ground(again, processor, images, ["the red circle"] * 3)
    assert [g.box for g in first] == [g.box for g in second]
    assert vqa(model, processor, images, ["how many shapes are there"] * 3) == vqa(
        again, processor, images, ["how many shapes are there"] * 3
    )


def test_batched_inference_matches_one_at_a_time(model, processor, scenes):
    images = [s.image for s in scenes[:5]]
    texts = ["the blue square"] * 5
    batched = ground(model, processor, images, texts, batch_size=5)
    single = [ground(model, processor, [im], [t])[0] for im, t in zip(images, texts, strict=False)]
    for a, b in zip(batched, single, strict=False):
        assert a.box == b.box and a.score == pytest.approx(b.score, abs=1e-5)
    big = Image.new("RGB", (128, 128))
    box = ground(model, processor, [big], ["the red circle"])[0].box
    assert box is not None and max(box) <= 128 and (box[2] - box[0]) % 16 == 0


def test_bad_input(model, processor, scenes):
    with pytest.raises(ValueError, match="task='segment' is invalid"):
        predict(model, processor, "segment", [scenes[0].image])
    with pytest.raises(
        ValueError, match="questions='<1 items>' is invalid; allowed: one per image"
    ):
        vqa(model, processor, [scenes[0].image] * 2, ["how many"])
    with pytest.raises(ValueError, match="objectives=.* is invalid"):
        GrillTrainingArguments(output_dir="x", objectives=("caption", "detect"))
    with pytest.raises(ValueError, match="grid_size=4 is invalid"):
        from vl_ground import GrillConfig

        GrillConfig(grid_size=4)
