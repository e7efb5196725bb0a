"""The parameter object: defaults, validation, TOML and --set, one line per error."""

import dataclasses

import pytest

from kamabm import ParameterError, Parameters


def test_defaults_are_valid_and_each_field_has_a_spec():
    params = Parameters()
    for name in Parameters.names():
        spec = Parameters.spec(name)
        value = getattr(params, name)
        values = value if Parameters.is_sequence(name) else (value,)
        assert all(spec.admits(v) for v in values), name
        assert spec.unit and spec.meaning and spec.group


def test_stable_public_names_exist():
    for name in ("client_revenue_share", "kam_pressure", "buyer_detachment"):
        assert name in Parameters.names()


def test_parameters_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Parameters().kam_pressure = 0.9


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("client_revenue_share", 0.0, "(0, 1]"),
    ("client_revenue_share", 1.2, "(0, 1]"),
    ("kam_pressure", -0.1, "[0, 1]"),
    ("buyer_detachment", 2, "[0, 1]"),
    ("n_suppliers", 1, "[2, 20]"),
    ("kam_pressure", float("nan"), "[0, 1]"),
])
def test_out_of_range_values_name_the_field_and_its_range(name, value, shown):
    with pytest.raises(ParameterError) as error:
        Parameters(**{name: value})
    message = str(error.value)
    assert name in message and shown in message and "\n" not in message


@pytest.mark.parametrize(("name", "value"), [("n_suppliers", 3.5), ("kam_pressure", "high"),
                                             ("n_key_buyers", True)])
def test_wrong_types_are_rejected(name, value):
    with pytest.raises(ParameterError, match=name):
        Parameters(**{name: value})


def test_whole_floats_are_accepted_for_integer_fields():
    assert Parameters(n_suppliers=5.0).n_suppliers == 5


def test_unknown_names_are_errors_with_a_suggestion():
    with pytest.raises(ParameterError, match="did you mean kam_pressure"):
        Parameters().replace(kam_presure=0.5)


def test_assignments_as_given_to_set():
    params = Parameters().with_assignments(["kam_pressure=0.9", "n_suppliers = 6"])
    assert params.kam_pressure == 0.9 and params.n_suppliers == 6
    with pytest.raises(ParameterError, match="expected NAME=VALUE"):
        Parameters().with_assignments(["kam_pressure"])
    with pytest.raises(ParameterError, match=r"kam_pressure.*not a number.*\[0, 1\]"):
        Parameters().with_assignments(["kam_pressure=lots"])


def test_toml_files_load_with_or_without_a_parameters_table(tmp_path):
    flat = tmp_path / "flat.toml"
    flat.write_text("kam_pressure = 0.7\nn_suppliers = 5\n")
    table = tmp_path / "table.toml"
    table.write_text("[parameters]\nbuyer_detachment = 0.1\n")
    assert Parameters.from_toml(flat).n_suppliers == 5
    assert Parameters.from_toml(table).buyer_detachment == 0.1


def test_broken_toml_files_are_named_in_the_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("kam_pressure = \n")
    with pytest.raises(ParameterError, match="bad.toml"):
        Parameters.from_toml(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("kam_pressure = 3\n")
    with pytest.raises(ParameterError, match=r"wrong.toml: kam_pressure.*\[0, 1\]"):
        Parameters.from_toml(wrong)
    with pytest.raises(ParameterError, match="missing.toml"):
        Parameters.from_toml(tmp_path / "missing.toml")


def test_the_two_markdown_tables_list_every_parameter_once():
    from kamabm.model.doc_tables import constants_table, parameter_table

    tables = parameter_table() + constants_table()
    for name in Parameters.names():
        assert tables.count(f"`{name}`") == 1


def test_numpy_scalars_from_result_tables_are_accepted():
    import numpy as np

    params = Parameters(n_suppliers=np.int64(5), kam_pressure=np.float32(0.25))
    assert params.n_suppliers == 5 and type(params.n_suppliers) is int
    assert type(params.kam_pressure) is float
    with pytest.raises(ParameterError, match="n_suppliers"):
        Parameters(n_suppliers=np.float64(4.5))
    with pytest.raises(ParameterError, match="kam_pressure"):
        Parameters(kam_pressure=np.bool_(True))


def test_importing_kamabm_does_not_import_mesa():
    import subprocess
    import sys

    code = "import sys, kamabm; kamabm.Parameters(); assert 'mesa' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
