"""Seeded synthetic scenes drawn with pillow, with boxes, captions, referring expressions and
VQA pairs, and a compositional split (colour–shape pairs never named in training text).

Objects sit on a ``grid``×``grid`` lattice of cells (small: one cell, large: 2×2 cells) and
never overlap. Every text mentions objects only by attributes, so what a held-out pair looks
like is learnable from its parts (its colour and its shape appear in other pairs).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterator

from lmlab_common import require, require_int
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 200, 30),
}
SIZES = ("small", "large")
# Pairs whose name never appears in pre-training text (they do appear in training images).
HELD_OUT_PAIRS = (("yellow", "triangle"), ("blue", "circle"), ("green", "square"))
BACKGROUND = (235, 235, 235)


@dataclasses.dataclass(frozen=True)
class SceneObject:
    shape: str
    colour: str
    size: str
    box: tuple[float, float, float, float]  # absolute xyxy pixels

    @property
    def pair(self) -> tuple[str, str]:
        return (self.colour, self.shape)

    @property
    def centre_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


@dataclasses.dataclass
class Scene:
    """One image with its objects and the texts made from them."""

    image: Image.Image
    objects: list[SceneObject]
    caption: str
    expressions: list[tuple[str, int]]  # (referring expression, object index)
    questions: list[tuple[str, str]]  # (question, answer)

    def held_out_objects(self) -> list[int]:
        return [i for i, o in enumerate(self.objects) if o.pair in HELD_OUT_PAIRS]


def _draw(draw: ImageDraw.ImageDraw, obj: SceneObject) -> None:
    x0, y0, x1, y1 = obj.box
    fill = COLOURS[obj.colour]
    if obj.shape == "circle":
        draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif obj.shape == "square":
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)], fill=fill)


def _describe(obj: SceneObject, objects: list[SceneObject]) -> str | None:
    """The shortest unambiguous referring expression for ``obj``, or None."""
    for words in ((obj.colour, obj.shape), (obj.size, obj.colour, obj.shape)):
        keys = ("colour", "shape") if len(words) == 2 else ("size", "colour", "shape")
        same = [o for o in objects if all(getattr(o, k) == getattr(obj, k) for k in keys)]
        if len(same) == 1:
            return "the " + " ".join(words)
    return None


def _questions(objects: list[SceneObject], rng: random.Random) -> list[tuple[str, str]]:
    qs = [("how many shapes are there", str(len(objects)))]
    for shape in SHAPES:
        same = [o for o in objects if o.shape == shape]
        if len(same) == 1:
            qs.append((f"what color is the {shape}", same[0].colour))
    for colour in COLOURS:
        same = [o for o in objects if o.colour == colour]
        if len(same) == 1:
            qs.append((f"what shape is the {colour} object", same[0].shape))
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    present = any(o.pair == (colour, shape) for o in objects)
    qs.append((f"is there a {colour} {shape}", "yes" if present else "no"))
    named = [(o, _describe(o, objects)) for o in objects]
    named = [(o, d) for o, d in named if d]
    if len(named) >= 2:
        (a, da), (b, db) = rng.sample(named, 2)
        if a.centre_x != b.centre_x:
            answer = "yes" if a.centre_x < b.centre_x else "no"
            qs.append((f"is {da} left of {db}", answer))
    return qs


def make_scene(
    rng: random.Random, image_size: int = 64, grid: int = 8, max_objects: int = 4
) -> Scene:
    """One random scene: 1..max_objects non-overlapping shapes on the cell lattice."""
    cell = image_size / grid
    taken = [[False] * grid for _ in range(grid)]
    objects: list[SceneObject] = []
    for _ in range(rng.randint(1, max_objects)):
        size = rng.choice(SIZES)
        span = 1 if size == "small" else 2
        free = [
            (y, x)
            for y in range(grid - span + 1)
            for x in range(grid - span + 1)
            if not any(taken[y + i][x + j] for i in range(span) for j in range(span))
        ]
        if not free:
            break
        y, x = rng.choice(free)
        for i in range(span):
            for j in range(span):
                taken[y + i][x + j] = True
        margin = 1.0
        box = (
            x * cell + margin,
            y * cell + margin,
            (x + span) * cell - margin,
            (y + span) * cell - margin,
        )
        objects.append(SceneObject(rng.choice(SHAPES), rng.choice(list(COLOURS)), size, box))
    image = Image.new("RGB", (image_size, image_size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for obj in objects:
        _draw(draw, obj)
    ordered = sorted(objects, key=lambda o: o.centre_x)
    caption = " and ".join(f"a {o.size} {o.colour} {o.shape}" for o in ordered)
    expressions = [(d, i) for i, o in enumerate(objects) if (d := _describe(o, objects))]
    return Scene(image, objects, caption, expressions, _questions(objects, rng))


def mentions_held_out(text: str) -> bool:
    """Whether one object mention in ``text`` holds both words of a held-out pair, in any order
    (conservative: "what color is the circle" + "blue" counts as naming a blue circle).
    Mentions are the parts between " and " / " left of "."""
    for chunk in re.split(r" and | left of ", text):
        words = set(chunk.split())
        if any(colour in words and shape in words for colour, shape in HELD_OUT_PAIRS):
            return True
    return False


def training_view(scene: Scene) -> Scene:
    """The scene as pre-training sees it: no text names a held-out pair (the caption leaves
    those objects out; their expressions and questions are dropped)."""
    kept = [
        o for o in sorted(scene.objects, key=lambda o: o.centre_x) if o.pair not in HELD_OUT_PAIRS
    ]
    caption = " and ".join(f"a {o.size} {o.colour} {o.shape}" for o in kept) or "nothing"
    return dataclasses.replace(
        scene,
        caption=caption,
        expressions=[(e, i) for e, i in scene.expressions if not mentions_held_out(e)],
        questions=[(q, a) for q, a in scene.questions if not mentions_held_out(q + " " + a)],
    )


def generate_scenes(
    n: int, seed: int = 0, image_size: int = 64, grid: int = 8, max_objects: int = 4
) -> Iterator[Scene]:
    """``n`` scenes from one seeded stream (the same seed gives the same scenes)."""
    require_int("n", n, low=0)
    require_int("grid", grid, low=2)
    require(image_size % grid == 0, "image_size", image_size, f"a multiple of grid={grid}")
    rng = random.Random(seed)
    for _ in range(n):
        yield make_scene(rng, image_size, grid, max_objects)


def all_texts() -> list[str]:
    """Every word the generator can write, for training a tokenizer."""
    words = [
        *SHAPES,
        *COLOURS,
        *SIZES,
        "a",
        "and",
        "the",
        "is",
        "there",
        "of",
        "left",
        "how",
        "many",
        "shapes",
        "are",
        "what",
        "color",
        "shape",
        "object",
        "yes",
        "no",
        "nothing",
        *map(str, range(10)),
    ]
    return [" ".join(words)]
