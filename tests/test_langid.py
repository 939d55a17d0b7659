"""Language ID with the real lid.176 model, and the fastText build's numpy-2 support (predict and train)."""

import numpy as np
import pytest

from transforms.signals import langid


@pytest.fixture(scope="module")
def model():
    return langid.load_model()


def test_model_ships_in_an_installed_wheel():
    path = langid.lid176_path()
    assert path.endswith("lid.176.ftz")
    assert "site-packages" in path


def test_identifies_real_languages_in_one_batch(model):
    texts = [
        "The committee published its annual report on the state of the river yesterday afternoon.",
        "Der Ausschuss hat gestern Nachmittag seinen Jahresbericht über den Zustand des Flusses veröffentlicht.",
        "委员会昨天下午发布了关于河流状况的年度报告。",
        "Het comité heeft gisteren zijn jaarverslag over de toestand van de rivier gepubliceerd.",
        "",
        "   \n\t ",
    ]
    got = langid.identify(model, texts)
    assert [lang for lang, _ in got] == ["en", "de", "zh", "nl", "unknown", "unknown"]
    assert all(0.65 < score <= 1.0 for _, score in got[:4])
    assert got[4][1] == 0.0


def test_multiline_text_is_one_prediction(model):
    # fastText's predict refuses newlines in a line; identify must flatten them.
    [(lang, score)] = langid.identify(
        model, ["Ceci est une phrase.\nEt voici une autre phrase en français.\n"]
    )
    assert lang == "fr" and score > 0.65


def test_fasttext_build_trains_and_predicts_with_numpy2(tmp_path):
    import fasttext

    assert int(np.__version__.split(".")[0]) >= 2
    train = tmp_path / "train.txt"
    lines = [f"__label__a apple apple pear {i}" for i in range(50)] + [
        f"__label__b car bus train {i}" for i in range(50)
    ]
    train.write_text("\n".join(lines) + "\n")
    # fastText 0.9.3 builds leave most of a new input matrix uninitialised: training then fails with
    # "Encountered NaN" at random, or gives different models for one seed. Train repeatedly to catch it.
    outputs = []
    for _ in range(5):
        model = fasttext.train_supervised(
            str(train), epoch=10, lr=0.05, dim=8, bucket=1000, thread=1, seed=1, verbose=0
        )
        labels, probs = model.predict("apple pear", k=1)  # predict(str) raises on numpy 2 with fasttext 0.9.3
        assert labels == ("__label__a",)
        outputs.append(model.get_output_matrix())
    assert all(np.array_equal(outputs[0], o) for o in outputs[1:])


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "lid.176.ftz"
    bad.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="cannot load fastText model .*lid.176.ftz"):
        langid.load_model(str(bad))
