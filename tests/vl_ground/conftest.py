import pytest
from vl_ground import GrillModel, GrillProcessor, generate_scenes, scene_to_example, training_view
from vl_ground.scenes import all_texts


@pytest.fixture(scope="session")
def processor():
    return GrillProcessor.from_texts(all_texts())


@pytest.fixture(scope="session")
def scenes():
    return list(generate_scenes(24, seed=3))


@pytest.fixture(scope="session")
def examples(scenes):
    return [scene_to_example(training_view(s)) for s in scenes]


@pytest.fixture()
def model(processor):
    return GrillModel.from_processor(
        processor, hidden_size=32, num_layers=1, num_heads=2, align_dim=16, seed=0
    ).eval()
