"""What the input files share: reading TOML, the file models' base, one-line messages.

Experiment, calibration, screening and client files are described by pydantic models
(:class:`FileModel`: unknown keys refused, TOML's types taken as they are, no silent
conversion of ``"4"`` to 4). :func:`check` validates a parsed file against its model and
turns pydantic's report into the project's one line, naming the file, the key path and
what is allowed::

    smoke.toml: levers.kam_pressure.count: expected a whole number in [2, 100000], got 1
    client.toml: sales.pressure: expected a number in [0, 1] (index), got 1.5
    cal.toml: abc.populaton: unknown key (did you mean population?), expected one of: ...

Positions in a list of values count from 0 (``values[2]``); blocks of an array of tables
count from 1 as a reader counts them in the file (``key_accounts[1]`` is the first
``[[key_accounts]]``). A validator that finds a problem below the key it checks raises
:class:`Invalid` with the rest of the path.
"""

from __future__ import annotations

import difflib
import math
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, Union, get_args, get_origin

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo

from kamabm.model.params import ParameterError, Parameters

Model = TypeVar("Model", bound=BaseModel)
Key = tuple[str | int, ...]

HORIZON_PARAMETER = "horizon_months"
#: A calibration's or screening's name (it names the results folder).
Name = Annotated[str, Field(pattern=r"^[\w-]+$", description="letters, digits, '_' or '-'")]
#: A non-empty text, surrounding blanks removed.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1),
                 Field(description="a non-empty text")]
#: The two ends of a range of values.
Bounds = Annotated[list[float], Field(min_length=2, max_length=2, description="[low, high]")]


class FileModel(BaseModel):
    """Base of the file models: unknown keys refused, values taken as TOML typed them."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Invalid(ValueError):
    """A validator's finding about ``key``, a path below the key it validates."""

    def __init__(self, key: Key, message: str) -> None:
        super().__init__(message)
        self.key = key


class ParameterFile(FileModel):
    """A file that fixes parameters: ``[base]`` and ``horizon`` (months, horizon_months).

    Every value is checked by :class:`~kamabm.model.params.Parameters`, in file order,
    so the message is the parameter registry's; :attr:`fixed` is the result.
    """

    horizon: Any = Field(default=None, description="months simulated (sets horizon_months)")
    base: dict[str, Any] = Field(default_factory=dict,
                                 description="a table of parameter = value")
    _fixed: Parameters = PrivateAttr(default_factory=Parameters)

    @model_validator(mode="after")
    def _fix_parameters(self) -> Self:
        values = dict(self.base)
        if self.horizon is not None:
            if HORIZON_PARAMETER in values:
                raise Invalid(("horizon",), f"given twice, also as base.{HORIZON_PARAMETER}")
            values[HORIZON_PARAMETER] = self.horizon
        params = Parameters()
        for name, value in values.items():
            key: Key = (("horizon",) if name == HORIZON_PARAMETER and self.horizon is not None
                        else ("base", name))
            params = with_parameter(params, name, value, key)
        self._fixed = params
        return self

    @property
    def fixed(self) -> Parameters:
        """The parameters with ``[base]`` and the horizon applied to the defaults."""
        return self._fixed

    def is_fixed(self, name: str) -> bool:
        """Whether the file fixes parameter ``name`` (in ``[base]`` or by ``horizon``)."""
        return name in self.base or (name == HORIZON_PARAMETER and self.horizon is not None)


def read_text(path: Path, error: type[Exception], what: str) -> str:
    """The text of ``path``, or ``error`` naming the file (missing, unreadable, not UTF-8)."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position "
                    f"{exc.start}); save it as UTF-8") from None


def parse_toml(text: str, where: str, error: type[Exception]) -> dict[str, Any]:
    """The tables of TOML ``text``, or ``error`` giving the line and column of a mistake."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML ({exc})") from None


def check(model: type[Model], doc: Mapping[str, Any], *, where: str, error: type[Exception],
          context: Mapping[str, Any] | None = None) -> Model:
    """``doc`` validated as ``model``, or ``error``: one line naming ``where`` and the key.

    ``context`` reaches the validators (names the run function reports, and the like).
    """
    try:
        return model.model_validate(doc, context=context)
    except ValidationError as exc:
        raise error(f"{where}: {explain(exc, model, doc)}") from None


def explain(exc: ValidationError, model: type[BaseModel], doc: Mapping[str, Any]) -> str:
    """The first problem pydantic found, as ``key: what is expected, got value``.

    An unknown key comes first: it is often a misspelt one, which is then also missing.
    """
    errors = exc.errors(include_url=False)
    found = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc: Key = tuple(found["loc"])
    problem = (found.get("ctx") or {}).get("error")
    if isinstance(problem, Invalid):
        return f"{key_path(loc + problem.key, doc)}: {problem}"
    key = key_path(loc, doc)
    if found["type"] == "value_error":
        return f"{key}: {problem}" if key else str(problem)
    if found["type"] == "extra_forbidden":
        return f"{key}: {_unknown_key(model, loc)}"
    annotation, info = _locate(model, loc)
    expected = _expected(annotation, info)
    if found["type"] == "missing":
        return f"{key}: missing, expected {expected}"
    return f"{key}: expected {expected}, got {_shown(found['input'])}"


def key_path(loc: Key, doc: Any) -> str:
    """``loc`` as a key of the file: ``uncertainties.client_revenue_share.range[0]``."""
    text, node = "", doc
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            text += f"[{part + 1 if isinstance(item, dict) else part}]"
            node = item
        else:
            text += f".{part}" if text else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text


def with_parameter(params: Parameters, name: str, value: Any, key: Key) -> Parameters:
    """``params`` with ``name = value``, or :class:`Invalid` at ``key`` saying why not."""
    try:
        return params.replace(**{name: value})
    except ParameterError as exc:
        raise Invalid(key, str(exc)) from None


def unknown_parameter(name: str, *, named: bool = False) -> str:
    """Why ``name`` is not a parameter (quoting it if ``named``), with the nearest name."""
    close = difflib.get_close_matches(name, Parameters.names(), n=1)
    return (f"unknown parameter{f' {name!r}' if named else ''}"
            + (f" (did you mean {close[0]}?)" if close else ""))


def parameter_field(name: str, default: Any = ..., **field: Any) -> Any:
    """A number field bounded by parameter ``name``'s allowed range, with its unit."""
    spec = Parameters.spec(name)
    low, high = spec.low, spec.high
    return Field(default=default, ge=None if spec.low_open else low,
                 gt=low if spec.low_open else None, le=None if spec.high_open else high,
                 lt=high if spec.high_open else None,
                 json_schema_extra={"unit": spec.unit.removesuffix(" each")}, **field)


# --- reading pydantic's report ----------------------------------------------------------
def _strip(annotation: Any) -> tuple[Any, FieldInfo | None]:
    """``X`` of ``X | None`` and of ``Annotated[X, Field(...)]``, and that declaration."""
    info = None
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            info = info or next((m for m in annotation.__metadata__
                                 if isinstance(m, FieldInfo)), None)
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, info
            annotation = members[0]
        else:
            return annotation, info


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _locate(model: type[BaseModel], loc: Key) -> tuple[Any, FieldInfo | None]:
    """The type at ``loc`` in ``model`` and its declaration (a field's, or an item's)."""
    annotation: Any = model
    info: FieldInfo | None = None
    for part in loc:
        if _is_model(annotation) and isinstance(part, str):
            field = annotation.model_fields.get(part)
            if field is None:
                return None, None
            annotation, inner = _strip(field.annotation)
            info = inner or field
        elif get_origin(annotation) in (list, tuple, dict):
            args = get_args(annotation)
            annotation, info = _strip(args[-1] if get_origin(annotation) is dict else args[0])
        else:
            return None, None
    return annotation, info


def _expected(annotation: Any, info: FieldInfo | None) -> str:
    """What a value at a key must be, in words: ``a whole number in [1, 1000]``."""
    if annotation in (int, float):
        kind = "a whole number" if annotation is int else "a number"
        return kind + _bounds(info)
    if info is not None and info.description:
        return info.description
    if annotation is bool:
        return "true or false"
    if annotation is str:
        return "a text"
    if get_origin(annotation) is Literal:
        return _choices(get_args(annotation))
    if get_origin(annotation) in (list, tuple):
        item, _ = _strip(get_args(annotation)[0])
        return "a list of " + ("names" if item is str else "numbers" if item in (int, float)
                               else "tables")
    if _is_model(annotation) or get_origin(annotation) is dict:
        return "a table"
    return "a valid value"


def _bounds(info: FieldInfo | None) -> str:
    """`` in [0, 1] (index)``, `` >= 1``, `` > 0``: a number field's bounds and unit."""
    if info is None:
        return ""
    low: tuple[Any, bool] | None = None  # (bound, closed)
    high: tuple[Any, bool] | None = None
    for bound in info.metadata:
        match bound:
            case annotated_types.Ge(ge=value):
                low = (value, True)
            case annotated_types.Gt(gt=value):
                low = (value, False)
            case annotated_types.Le(le=value) if value != math.inf:
                high = (value, True)
            case annotated_types.Lt(lt=value) if value != math.inf:
                high = (value, False)
    if low and high:
        text = (f" in {'[' if low[1] else '('}{low[0]:g}, {high[0]:g}"
                f"{']' if high[1] else ')'}")
    elif low:
        text = f" {'>=' if low[1] else '>'} {low[0]:g}"
    elif high:
        text = f" {'<=' if high[1] else '<'} {high[0]:g}"
    else:
        text = ""
    extra = info.json_schema_extra
    unit = extra.get("unit") if isinstance(extra, dict) else None
    return text + (f" ({unit})" if unit else "")


def _choices(options: tuple[Any, ...]) -> str:
    shown = [repr(o) for o in options]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _shown(value: Any) -> str:
    """A value as the message quotes it; tables are named, not printed."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"{len(value)} tables"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key(model: type[BaseModel], loc: Key) -> str:
    """``unknown key (hint), expected one of: ...`` for the last key of ``loc``."""
    parent, _ = _locate(model, loc[:-1])
    key = str(loc[-1])
    allowed = sorted(parent.model_fields) if _is_model(parent) else []
    sections = {name: _strip(field.annotation)[0] for name, field in model.model_fields.items()}
    home = [name for name, section in sections.items()
            if len(loc) > 1 and name != loc[0] and _is_model(section)
            and key in section.model_fields]
    close = difflib.get_close_matches(key, allowed, n=1)
    if len(loc) > 1 and key in model.model_fields:
        hint = " (it belongs at the top level)"
    elif home:
        hint = f" (it belongs under [{home[0]}])"
    elif close:
        hint = f" (did you mean {close[0]}?)"
    else:
        hint = ""
    return f"unknown key{hint}, expected one of: {', '.join(allowed)}"
