"""Which models a drift job checks: the predictor's MODEL_URI list or MODEL_FILTER/MODEL_ALIAS, as flags too."""

from __future__ import annotations

import pytest

from drift.cli import UsageError, main, parse_command_line
from drift.selection import Selection, parse_model_uris
from service.model_uri import ModelURI

RUN = ["run"]


def test_one_model_uri_is_the_single_model_job_of_before() -> None:
    settings = parse_command_line([*RUN, "--model-uri", "models:/a@Production"], {})
    assert settings.selection is None
    assert settings.model_uri == ModelURI("a", alias="Production")


def test_a_uri_list_from_the_flag_or_the_environment_selects_each_model() -> None:
    text = "models:/a@Production, models:/b/3,,models:/c/Staging,"  # empty items ignored, as the predictor does
    for argv, environ in (([*RUN, "--model-uri", text], {}), (RUN, {"MODEL_URI": text})):
        selection = parse_command_line(argv, environ).selection
        assert selection is not None
        assert [str(uri) for uri in selection.uris] == ["models:/a@Production", "models:/b/3", "models:/c/Staging"]
        assert str(selection.uris) == "models:/a@Production,models:/b/3,models:/c/Staging"


def test_a_filter_selects_at_the_alias_given_or_production() -> None:
    assert parse_command_line(RUN, {"MODEL_FILTER": "tags.serve = 'true'"}).selection == Selection(
        filter="tags.serve = 'true'", alias="Production"
    )
    environ = {"MODEL_FILTER": "tags.serve = 'true'", "MODEL_ALIAS": "Champion"}
    assert parse_command_line(RUN, environ).selection == Selection(filter="tags.serve = 'true'", alias="Champion")
    flags = [*RUN, "--model-filter", "name LIKE 'fraud-%'", "--model-alias", "Live"]
    assert parse_command_line(flags, {"MODEL_URI": "models:/x@Production"}).selection == Selection(
        filter="name LIKE 'fraud-%'", alias="Live"
    ), "flags replace the environment's selection as a whole"


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([*RUN, "--model-uri", "models:/a@P", "--model-filter", "x"], {}, "not both"),
        (RUN, {"MODEL_URI": "models:/a@P", "MODEL_FILTER": "x"}, "not both"),
        (RUN, {}, "no model to check"),
        ([*RUN, "--model-uri", "models:/a@P", "--model-alias", "Live"], {}, "goes with a filter"),
        ([*RUN, "--model-uri", "models:/a@P,models:/a/2"], {}, "names a more than once"),
        ([*RUN, "--model-uri", " , "], {}, "names no model"),
        ([*RUN, "--model-uri", "models:/a@P,b"], {}, "not a registry URI"),
        ([*RUN, "--model-filter", "x", "--model-alias", "latest"], {}, "reserved alias"),
        ([*RUN, "--model-filter", "x", "--time-budget", "soon"], {}, "--time-budget"),
    ],
)
def test_a_bad_selection_is_a_usage_error(argv: list[str], environ: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_command_line(argv, environ)


def test_both_kinds_of_selection_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*RUN, "--model-uri", "models:/a@Production", "--model-filter", "x"], {}) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_each_model_gets_its_own_uri_stage_and_retraining_data() -> None:
    argv = [*RUN, "--model-filter", "x", "--retrain", "--retrain-data", "s3://b/{model}/train.parquet", "--target", "y"]
    settings = parse_command_line(argv, {})
    one = settings.for_model(ModelURI("fraud", stage="Staging"))
    assert (one.model_uri.name, one.selection) == ("fraud", None)
    assert one.retrain is not None
    assert (one.retrain.data, one.retrain.stage) == ("s3://b/fraud/train.parquet", "Staging")
    assert parse_model_uris("models:/a@Production") == (ModelURI("a", alias="Production"),)
