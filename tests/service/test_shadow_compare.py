"""What counts as a disagreement between two versions' answers (service/shadow_compare.py)."""

from __future__ import annotations

import numpy as np
import pytest

from service.shadow_compare import Tolerance, compare

TOLERANCE = Tolerance(atol=1e-6, rtol=0.01)


def test_classifier_rows_disagree_on_another_label() -> None:
    result = compare(np.array([0, 1, 1, 0]), np.array([0, 0, 1, 1]), 4, TOLERANCE, classes=[0, 1])
    assert (result.rows, result.disagreeing) == (4, 2)
    assert result.differences is None


def test_string_and_number_labels_compare_by_text() -> None:
    result = compare(np.array(["1", "0"]), np.array([1, 1]), 2, TOLERANCE, classes=["0", "1"])
    assert result.disagreeing == 1


def test_regressor_rows_disagree_beyond_the_tolerance() -> None:
    production = np.array([100.0, 100.0, 0.0, 0.0, np.nan])
    shadow = np.array([100.9, 101.1, 5e-7, 2e-6, 1.0])
    result = compare(production, shadow, 5, TOLERANCE)
    assert result.disagreeing == 3  # 1.1 % off, 2e-6 from zero, and NaN
    assert result.differences is not None
    assert result.differences[:4] == pytest.approx([0.9, 1.1, 5e-7, 2e-6])


def test_probabilities_are_aligned_by_class_and_measured_by_total_variation() -> None:
    production = np.array([[0.9, 0.1], [0.4, 0.6]])
    shadow = np.array([[0.2, 0.8], [0.6, 0.4]])  # classes in the other order: [1, 0]
    result = compare(production, shadow, 2, TOLERANCE, classes=[0, 1], shadow_classes=[1, 0], probabilities=True)
    assert result.disagreeing == 0  # same most probable class on both rows
    assert result.probabilities is not None
    assert result.probabilities.tolist() == [[0.8, 0.2], [0.4, 0.6]]
    assert result.distances is not None
    assert result.distances.tolist() == pytest.approx([0.1, 0.0])
    assert result.labels.tolist() == [0, 1]


def test_an_answer_of_another_shape_is_the_shadows_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        compare(np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, 4.0]]), 2, TOLERANCE)
    with pytest.raises(ValueError, match="rows"):
        compare(np.array([1.0, 2.0]), np.array([1.0]), 2, TOLERANCE)
