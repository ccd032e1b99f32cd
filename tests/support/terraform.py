"""Read Terraform offline (no terraform binary here): blocks parsed with python-hcl2, and a small
evaluator for the simple expressions our modules use where values matter to a test — string
templates, `var.` / `local.` references and a few functions. Anything else raises, so a module
change that outgrows it fails loudly instead of being read wrongly."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

OPTIONS = SerializationOptions(strip_string_quotes=True)

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "element": lambda items, index: items[int(index) % len(items)],
    "split": lambda separator, text: text.split(separator),
    "trim": lambda text, chars: text.strip(chars),
    "trimsuffix": lambda text, suffix: text.removesuffix(suffix),
    "trimprefix": lambda text, prefix: text.removeprefix(prefix),
    "coalesce": lambda *values: next(v for v in values if v not in ("", None)),
}


def parse(path: Path) -> dict:
    with open(path) as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def blocks(folder: Path, kind: str) -> dict[str, Any]:
    """Every block of a kind in a module folder, by name (`locals` merged into one dict)."""
    found: dict[str, Any] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in parse(path).get(kind, []):
            found.update(block)
    return found


class Evaluator:
    """Values of a module's locals for given variables (defaults from variables.tf)."""

    def __init__(self, module: Path, variables: Mapping[str, Any]) -> None:
        declared = blocks(module, "variable")
        unknown = set(variables) - set(declared)
        if unknown:
            raise KeyError(f"not variables of {module.name}: {sorted(unknown)}")
        self.variables = {name: spec.get("default") for name, spec in declared.items()} | dict(variables)
        self.locals_source = blocks(module, "locals")
        self._locals: dict[str, Any] = {}

    def local(self, name: str) -> Any:
        if name not in self._locals:
            self._locals[name] = self.value(self.locals_source[name])
        return self._locals[name]

    def value(self, item: Any) -> Any:
        if isinstance(item, dict):
            return {k: self.value(v) for k, v in item.items() if k != "__is_block__"}
        if isinstance(item, list):
            return [self.value(v) for v in item]
        if isinstance(item, str):
            return self.template(item)
        return item

    def template(self, text: str) -> Any:
        parts = _split_template(text)
        if len(parts) == 1 and isinstance(parts[0], tuple):
            return self.expression(parts[0][0])
        return "".join(p if isinstance(p, str) else str(self.expression(p[0])) for p in parts)

    def expression(self, source: str) -> Any:
        value, rest = self._parse(source.strip())
        if rest.strip():
            raise ValueError(f"cannot evaluate {source!r} (left: {rest!r})")
        return value

    def _parse(self, text: str) -> tuple[Any, str]:
        text = text.lstrip()
        if text.startswith('"'):
            end = _string_end(text)
            return self.template(text[1:end].replace('\\"', '"')), text[end + 1 :]
        if match := re.match(r"-?\d+", text):
            return int(match.group()), text[match.end() :]
        match = re.match(r"[A-Za-z_][A-Za-z0-9_.\-]*", text)
        if not match:
            raise ValueError(f"cannot evaluate {text!r}")
        name, rest = match.group(), text[match.end() :].lstrip()
        if rest.startswith("("):
            return self._call(name, rest[1:])
        return self._reference(name), rest

    def _call(self, name: str, text: str) -> tuple[Any, str]:
        if name not in FUNCTIONS:
            raise ValueError(f"function {name}() is not supported by this evaluator")
        arguments = []
        while True:
            text = text.lstrip()
            if text.startswith(")"):
                return FUNCTIONS[name](*arguments), text[1:]
            value, text = self._parse(text)
            arguments.append(value)
            text = text.lstrip().removeprefix(",")

    def _reference(self, name: str) -> Any:
        head, *path = name.split(".")
        if head == "var":
            value = self.variables[path[0]]
        elif head == "local":
            value = self.local(path[0])
        else:
            raise ValueError(f"reference {name} is not supported by this evaluator")
        for key in path[1:]:
            value = value[key]
        return value


def _string_end(text: str) -> int:
    """Index of the quote closing the string that starts at text[0] (templates may nest quotes)."""
    depth, index = 0, 1
    while index < len(text):
        if text.startswith("${", index):
            depth, index = depth + 1, index + 2
            continue
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "}" and depth:
            depth -= 1
        elif char == '"' and not depth:
            return index
        index += 1
    raise ValueError(f"unterminated string {text!r}")


def _split_template(text: str) -> list[str | tuple[str]]:
    """Literal parts and ("expression",) parts of a `...${expr}...` template."""
    parts: list[str | tuple[str]] = []
    index = 0
    while (start := text.find("${", index)) != -1:
        if start > index:
            parts.append(text[index:start])
        depth, cursor, quoted = 1, start + 2, False
        while depth:
            char = text[cursor]
            if char == "\\":
                cursor += 2
                continue
            if char == '"':
                quoted = not quoted if depth == 1 or quoted else quoted
            if text.startswith("${", cursor):
                depth, cursor = depth + 1, cursor + 2
                continue
            if char == "{" and not quoted:
                depth += 1
            elif char == "}":
                depth -= 1
            cursor += 1
        parts.append((text[start + 2 : cursor - 1],))
        index = cursor
    if index < len(text) or not parts:
        parts.append(text[index:])
    return parts
