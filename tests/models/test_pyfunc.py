import numpy as np

from oncofusion.models.pyfunc import outputs_frame


def test_the_pyfunc_reports_the_model_s_called_class_not_the_most_probable_one():
    result = {
        "probabilities": np.array([[0.6, 0.4], [0.9, 0.1]]),
        "predicted": np.array([1, 0]),
        "attention": np.array([[1.0], [1.0]]),
    }
    frame = outputs_frame(result, ["common", "rare"], ["m"])
    assert frame["predicted"].tolist() == ["rare", "common"]
    np.testing.assert_allclose(frame["p_rare"], [0.4, 0.1])
    del result["predicted"]  # results from before the decision: the most probable class
    assert outputs_frame(result, ["common", "rare"], ["m"])["predicted"].tolist() == ["common", "common"]
