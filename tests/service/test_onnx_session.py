"""`OnnxSession.run` calls ONNX Runtime's C++ session directly (service/onnx_runtime.py, `_bound_run`): the
same outputs as the public `InferenceSession.run`, and the same refusal of a badly shaped feed."""

from __future__ import annotations

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from service.onnx_runtime import OnnxSession


@pytest.fixture(scope="module")
def session() -> OnnxSession:
    features, labels = load_breast_cancer(return_X_y=True)
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))]).fit(features, labels)
    onnx = to_onnx(model, features[:1].astype(np.float32), options={id(model): {"zipmap": False}})
    return OnnxSession(onnx.SerializeToString())


@pytest.mark.parametrize("rows", [1, 7])
def test_outputs_are_those_of_the_public_run(session: OnnxSession, rows: int) -> None:
    data = load_breast_cancer().data[:rows]
    public = session.session.run(None, session.feeds(data))
    got = session.run(data)
    assert len(got) == len(public) == len(session.output_names)
    for ours, theirs in zip(got, public, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_a_feed_of_the_wrong_width_is_refused(session: OnnxSession) -> None:
    with pytest.raises(Exception, match=r"(?i)dimension|shape"):
        session.run(np.zeros((1, 29)))
