"""Hooks take only a connection id; operators declare template_fields and do no work in __init__ (the
Airflow providers' rules, enforced as the Amazon provider enforces them)."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import visionflow_airflow.hooks as hooks_pkg
import visionflow_airflow.operators as operators_pkg


def classes(package, suffix):
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if name.endswith(suffix) and cls.__module__ == module.__name__:
                yield cls


def test_hook_constructors_take_only_a_connection_id():
    found = list(classes(hooks_pkg, "Hook"))
    assert found
    for hook in found:
        params = [p for p in inspect.signature(hook.__init__).parameters.values()
                  if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        assert len(params) <= 1 and all(p.name.endswith("conn_id") for p in params), (hook, params)


def test_operators_declare_template_fields_and_are_keyword_only():
    found = list(classes(operators_pkg, "Operator"))
    assert len(found) >= 6
    for op in found:
        assert isinstance(op.template_fields, (tuple, list)) and op.template_fields, op
        params = [p for p in inspect.signature(op.__init__).parameters.values() if p.name != "self"]
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params), (op, params)


def test_every_operator_turns_bad_input_into_a_failure_without_retries():
    from visionflow_airflow.common import VisionflowOperator

    for op in classes(operators_pkg, "Operator"):
        assert issubclass(op, VisionflowOperator), op
        assert "execute" not in vars(op), f"{op.__name__} overrides execute; implement run()"


def test_a_kinetics_operator_fails_at_once_on_a_bad_dataset(tmp_path):
    import pytest
    from airflow.sdk.exceptions import AirflowFailException

    from visionflow_airflow.operators.video import FetchKineticsAnnotationsOperator

    op = FetchKineticsAnnotationsOperator(task_id="t", output_root=str(tmp_path), dataset="kinetics401",
                                          annotations_url=str(tmp_path), splits=["train"])
    with pytest.raises(AirflowFailException, match="kinetics401"):
        op.execute({})
