"""Page forms parsed into the API's own pydantic models, so a limit is written once (in schemas/
or a workflow's move data) and a page refuses what the API refuses, in the API's wording.

`parse(model, form, labels=…)` reads the model's fields from the form by name (trimmed text; an
empty field counts as not given, so the model's default applies or it is missing). What the
model refuses raises `FormInvalid`: status 422 as in the API, one problem per field, each in
`problem_zh`'s words after the field's Chinese label ("意见建议内容：最多 5000 个字符"), or
the page's own sentence for a field left empty (`missing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from web.errors import problem_zh
from web.wording import label
from workflows.kernel.errors import DomainError

M = TypeVar("M", bound=BaseModel)


class FormInvalid(DomainError):
    """A page form the API's model refuses: (field, Chinese message) per problem."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(
            "validation_error",
            "；".join(message for _, message in problems),
            "invalid form data: " + ", ".join(field for field, _ in problems),
            status=422,
            details={"fields": [field for field, _ in problems]},
        )
        self.problems = problems


def _given(
    model: type[BaseModel], form: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """The model's fields as the form (or `values`, first) has them; empty ones left out."""
    out: dict[str, Any] = {}
    for name in model.model_fields:
        value = values[name] if name in values else form.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value is not None and value != "":
            out[name] = value
    return out


def parse(
    model: type[M],
    form: Mapping[str, Any],
    *,
    labels: Mapping[str, str],
    missing: Mapping[str, str] | None = None,
    **values: Any,
) -> M:
    """The form as the API's `model`, or `FormInvalid` naming each field the model refuses.

    `labels` names the fields in Chinese; `missing` gives the sentence for a field left empty;
    `values` are fields the page reads itself (other input names, converted values).
    """
    given = _given(model, form, values)
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            if (missing or {}).get(field) and field not in given:
                problems.append((field, (missing or {})[field]))
            else:
                name = labels.get(field) or label(field)
                problems.append((field, f"{name}：{problem_zh(dict(err))}"))
        raise FormInvalid(problems) from None
