"""scikit-learn estimators and pipelines converted to ONNX with skl2onnx, in the forms worth trying.

A form is an input layout and a float width. Layout `array`: one 2-D input in signature order, fed from
the array fast path (`LoadedModel.array_input`); possible when every input is numeric and the estimator was
fitted on the signature's columns in that order. Layout `columns`: one `[n, 1]` input per signature column,
named like it, fed from the DataFrame (strings for encoders, ColumnTransformers selecting by name).

Width: tree ensembles in float32, which is what scikit-learn's trees compare in (thresholds and input are
cast to float32 by `sklearn.tree`): nothing is lost. Everything else in float64 first (a linear model in
float32 may differ in the last digits), float32 when the float64 graph does not convert. Whichever form
converts still has to agree with the native model on the reference rows (service/compiled.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.schema import NUMERIC, InputSchema

OPSET = {"": 17, "ai.onnx.ml": 3}
"""ONNX opsets the conversion targets; ONNX Runtime 1.2x runs both."""


@dataclass(frozen=True)
class Form:
    layout: str
    """`array` (one 2-D input in signature order) or `columns` (one input per signature column)."""
    dtype: type[np.floating[Any]]


def forms(estimator: Any, schema: InputSchema) -> Iterator[Form]:
    """The forms to try for this estimator, best first."""
    widths: list[type[np.floating[Any]]] = [np.float32] if _tree_based(estimator) else [np.float64, np.float32]
    layouts = ["array", "columns"] if array_layout(estimator, schema) else ["columns"]
    for layout in layouts:
        for dtype in widths:
            yield Form(layout, dtype)


def convert(estimator: Any, schema: InputSchema, form: Form) -> bytes:
    """The serialized ONNX model of `estimator` in `form`; raises what skl2onnx raises when it cannot."""
    _allow_bool_missing_flags()
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import (
        BooleanTensorType,
        DoubleTensorType,
        FloatTensorType,
        StringTensorType,
    )

    number = DoubleTensorType if form.dtype is np.float64 else FloatTensorType
    if form.layout == "array":
        initial = [("X", number([None, len(schema.columns)]))]
    else:
        kinds = {"string": StringTensorType, "boolean": BooleanTensorType}
        initial = [(c.name, kinds.get(c.type, number)([None, 1])) for c in schema.columns]
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    model = to_onnx(estimator, initial_types=initial, target_opset=OPSET)
    _probabilities_as_tensor(model)
    _route_missing_values_as_fitted(model, final)
    return bytes(model.SerializeToString())


def _probabilities_as_tensor(model: Any) -> None:
    """A classifier's probabilities as one `[n, classes]` tensor: its `ZipMap` (one dict per row) removed.

    Not skl2onnx's `zipmap=False` option: any option makes skl2onnx walk every attribute of the estimator
    (`dir()`), which computes a forest's `feature_importances_` and `estimators_samples_` and took 4.7 of the
    5.5 s a 200-tree forest's conversion cost here; without options it converts in 0.4 s.
    """
    from onnx import TensorProto, helper, shape_inference

    zipmaps = [n for n in model.graph.node if n.op_type == "ZipMap"]
    if len(zipmaps) != 1:
        return
    zipmap = zipmaps[0]
    tensor, mapped = zipmap.input[0], zipmap.output[0]
    inferred = shape_inference.infer_shapes(model)
    known = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    # ONNX-ML's classifiers (trees, linear) give float probabilities, which shape inference leaves unnamed.
    element = known.get(tensor) or TensorProto.FLOAT
    model.graph.node.remove(zipmap)
    outputs = [
        helper.make_tensor_value_info(tensor, element, None) if o.name == mapped else o for o in model.graph.output
    ]
    del model.graph.output[:]
    model.graph.output.extend(outputs)


def _route_missing_values_as_fitted(model: Any, final: Any) -> None:
    """Send a missing value down the branch scikit-learn's tree sends it (`tree_.missing_go_to_left`).

    scikit-learn's trees (1.4+) take NaN: each split has a learned direction, or the larger child when no NaN
    was seen in training. skl2onnx writes every node's `nodes_missing_value_tracks_true` as 0 (NaN goes to
    the false branch, i.e. right) for these trees; the flag is set from the fitted trees instead. Trees are
    numbered as skl2onnx numbers them: `estimators_` in order (a gradient boosting's row by row), a single tree 0.
    """
    fitted = getattr(final, "estimators_", None)
    members: Any = np.ravel(np.asarray(fitted, dtype=object)) if fitted is not None else []
    trees = [e.tree_ for e in members if hasattr(e, "tree_")]
    if hasattr(final, "tree_"):
        trees = [final.tree_]
    if not trees or not all(hasattr(t, "missing_go_to_left") for t in trees):
        return
    ensembles = [n for n in model.graph.node if n.op_type in ("TreeEnsembleClassifier", "TreeEnsembleRegressor")]
    if len(ensembles) != 1:
        return
    attributes = {a.name: a for a in ensembles[0].attribute}
    tree_ids, node_ids = attributes["nodes_treeids"].ints, attributes["nodes_nodeids"].ints
    if max(tree_ids, default=0) >= len(trees):
        return
    flags = [int(trees[t].missing_go_to_left[n]) for t, n in zip(tree_ids, node_ids, strict=True)]
    if "nodes_missing_value_tracks_true" in attributes:
        del attributes["nodes_missing_value_tracks_true"].ints[:]
        attributes["nodes_missing_value_tracks_true"].ints.extend(flags)
    else:
        from onnx import helper

        ensembles[0].attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", flags))


def _tree_based(estimator: Any) -> bool:
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return type(final).__module__.startswith(("sklearn.ensemble", "sklearn.tree"))


def array_layout(estimator: Any, schema: InputSchema) -> bool:
    if not all(c.type in NUMERIC for c in schema.columns):
        return False
    first = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
    fitted = getattr(first, "feature_names_in_", None)
    return fitted is None or [str(n) for n in fitted] == schema.names


_patched = False


def _allow_bool_missing_flags() -> None:
    """Let skl2onnx 1.20 convert HistGradientBoosting* under protobuf 6+.

    skl2onnx's tree writer passes the Python bool `False` as the missing-value flag of leaves
    (`skl2onnx.common.tree_ensemble`); protobuf 6 refuses a bool in an int list ("Expected an int, got a
    boolean"), so every HistGradientBoosting model fails to convert. The flag is coerced to the int it means.
    """
    global _patched
    if _patched:
        return
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args: Any, **kwargs: Any) -> Any:
        flag = kwargs.get("nodes_missing_value_tracks_true")
        if isinstance(flag, bool | np.bool_):
            kwargs["nodes_missing_value_tracks_true"] = int(flag)
        return original(*args, **kwargs)

    tree_ensemble.add_node = add_node
    _patched = True
