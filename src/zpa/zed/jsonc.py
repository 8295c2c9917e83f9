"""Edit Zed's settings file (JSON with comments and trailing commas) by splicing text.

Zed itself edits settings.json by replacing text at node spans, so that
comments, key order, indentation and line endings survive. This module does
the same: a small tokenizer/parser keeps the character span of every value
and member, and the edits (insert a member, replace a value, remove a member)
touch only those spans. Everything outside them stays byte-identical.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from zpa.errors import ZpaError


@dataclass
class Node:
    kind: str  # object | array | string | number | true | false | null
    start: int
    end: int  # exclusive
    members: list["Member"] = field(default_factory=list)  # object
    items: list["Node"] = field(default_factory=list)  # array
    value: Any = None  # scalars


@dataclass
class Member:
    key: str
    key_start: int
    value: Node
    comma: int | None = None  # position of the comma after this member, if any


class JsoncError(ZpaError):
    pass


class _Parser:
    def __init__(self, text: str, file: str | None) -> None:
        self.text = text
        self.file = file
        self.i = 1 if text.startswith("\ufeff") else 0

    def error(self, message: str, pos: int | None = None) -> JsoncError:
        pos = self.i if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return JsoncError(message, file=self.file, line=line, column=col,
                          hint="fix the file in Zed (it shows the error too), then run zpa again; nothing was changed")

    def skip(self) -> None:
        t = self.text
        n = len(t)
        while self.i < n:
            c = t[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif t.startswith("//", self.i):
                nl = t.find("\n", self.i)
                self.i = n if nl < 0 else nl + 1
            elif t.startswith("/*", self.i):
                close = t.find("*/", self.i + 2)
                if close < 0:
                    raise self.error("unterminated block comment")
                self.i = close + 2
            else:
                return

    def parse(self) -> Node:
        self.skip()
        if self.i >= len(self.text):
            raise self.error("empty document")
        node = self.value()
        self.skip()
        if self.i < len(self.text):
            raise self.error("unexpected text after the settings object")
        return node

    def value(self) -> Node:
        self.skip()
        if self.i >= len(self.text):
            raise self.error("unexpected end of file")
        c = self.text[self.i]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c == '"':
            start = self.i
            s = self.string()
            return Node("string", start, self.i, value=s)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.i):
                start = self.i
                self.i += len(word)
                return Node(word, start, self.i, value=val)
        return self.number()

    def string(self) -> str:
        start = self.i
        self.i += 1
        t = self.text
        while True:
            if self.i >= len(t):
                raise self.error("unterminated string", start)
            c = t[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == '"':
                self.i += 1
                break
            if c == "\n":
                raise self.error("line break inside a string", self.i)
            self.i += 1
        try:
            return json.loads(t[start:self.i])
        except ValueError:
            raise self.error("invalid string escape", start) from None

    def number(self) -> Node:
        start = self.i
        t = self.text
        while self.i < len(t) and t[self.i] in "+-0123456789.eE":
            self.i += 1
        raw = t[start:self.i]
        try:
            val = json.loads(raw) if raw else None
        except ValueError:
            val = None
        if val is None or isinstance(val, (list, dict, str)):
            raise self.error(f"unexpected {t[start:start + 12]!r}" if start < len(t) else "unexpected end of file", start)
        return Node("number", start, self.i, value=val)

    def obj(self) -> Node:
        start = self.i
        self.i += 1
        node = Node("object", start, start)
        while True:
            self.skip()
            if self.i >= len(self.text):
                raise self.error("unterminated object", start)
            if self.text[self.i] == "}":
                self.i += 1
                node.end = self.i
                return node
            if node.members and node.members[-1].comma is None:
                raise self.error("expected ',' or '}'")
            if self.text[self.i] != '"':
                raise self.error("expected a quoted key")
            key_start = self.i
            key = self.string()
            self.skip()
            if self.i >= len(self.text) or self.text[self.i] != ":":
                raise self.error("expected ':' after the key")
            self.i += 1
            member = Member(key, key_start, self.value())
            node.members.append(member)
            self.skip()
            if self.i < len(self.text) and self.text[self.i] == ",":
                member.comma = self.i
                self.i += 1

    def arr(self) -> Node:
        start = self.i
        self.i += 1
        node = Node("array", start, start)
        expect_comma = False
        while True:
            self.skip()
            if self.i >= len(self.text):
                raise self.error("unterminated array", start)
            if self.text[self.i] == "]":
                self.i += 1
                node.end = self.i
                return node
            if expect_comma:
                raise self.error("expected ',' or ']'")
            node.items.append(self.value())
            self.skip()
            if self.i < len(self.text) and self.text[self.i] == ",":
                self.i += 1
            else:
                expect_comma = True


def parse(text: str, file: str | None = None) -> Node:
    return _Parser(text, file).parse()


def to_python(node: Node) -> Any:
    if node.kind == "object":
        out: dict[str, Any] = {}
        for m in node.members:
            out[m.key] = to_python(m.value)  # a repeated key: the last wins, as in Zed
        return out
    if node.kind == "array":
        return [to_python(i) for i in node.items]
    return node.value


def loads(text: str, file: str | None = None) -> Any:
    """Parse JSON with comments; an empty (or whitespace-only) file is an empty object."""
    if not text.lstrip("\ufeff").strip():
        return {}
    return to_python(parse(text, file))


def find(node: Node, key: str) -> Member | None:
    found = None
    for m in node.members:
        if m.key == key:
            found = m  # the last occurrence is the one that counts
    return found


# -- text editing ------------------------------------------------------------


@dataclass
class Style:
    unit: str  # one level of indentation
    newline: str


def detect_style(text: str) -> Style:
    newline = "\r\n" if "\r\n" in text else "\n"
    widths = []
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        # Only lines that start a key or close a bracket say how the file indents
        # (not comment continuation lines like " * ...").
        if not stripped or line == stripped or stripped[0] not in '"}]':
            continue
        lead = line[: len(line) - len(stripped)]
        if lead.startswith("\t"):
            return Style("\t", newline)
        widths.append(len(lead))
    unit = min(widths) if widths else 2
    return Style(" " * max(1, min(unit, 8)), newline)


def line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    i = start
    while i < len(text) and text[i] in " \t":
        i += 1
    return text[start:i]


def dump(value: Any, indent: str, style: Style) -> str:
    """Serialise ``value`` as it would sit at ``indent`` in the file's style."""
    text = json.dumps(value, indent=1, ensure_ascii=False)
    out = []
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(" "))
        out.append(style.unit * depth + line.lstrip(" "))
    return (style.newline + indent).join(out)


def _rest_of_line_is_blank(text: str, pos: int) -> tuple[bool, int]:
    """Whether only whitespace or a line comment follows ``pos`` on its line; and the line's end."""
    nl = text.find("\n", pos)
    end = len(text) if nl < 0 else nl
    if end > pos and text[end - 1] == "\r":
        end -= 1  # a CRLF line ends before its CR
    rest = text[pos:end]
    return bool(_TRAILING_COMMENTS.fullmatch(rest)), end


_TRAILING_COMMENTS = re.compile(r"(\s*/\*.*?\*/)*\s*(//.*)?")


def insert_member(text: str, obj: Node, key: str, value: Any, style: Style) -> str:
    """Add ``"key": value`` as the last member of ``obj``."""
    if obj.members:
        last = obj.members[-1]
        indent = line_indent(text, last.key_start)
        if "\n" in text[obj.start:obj.end]:
            member = json.dumps(key, ensure_ascii=False) + ": " + dump(value, indent, style)
        else:  # an object written on one line stays on one line
            member = json.dumps({key: value}, ensure_ascii=False, separators=(", ", ": "))[1:-1]
        if last.comma is not None:  # trailing-comma style: keep it
            ok, eol = _rest_of_line_is_blank(text, last.comma + 1)
            if ok:
                return text[:eol] + style.newline + indent + member + "," + text[eol:]
            return text[:last.comma + 1] + " " + member + "," + text[last.comma + 1:]
        end = last.value.end
        ok, eol = _rest_of_line_is_blank(text, end)
        if ok and eol < len(text):
            return text[:end] + "," + text[end:eol] + style.newline + indent + member + text[eol:]
        return text[:end] + ", " + member + text[end:]
    # An empty object: put the member on its own line between the braces.
    outer = line_indent(text, obj.start)
    inner = outer + style.unit
    member = json.dumps(key, ensure_ascii=False) + ": " + dump(value, inner, style)
    body = text[obj.start + 1:obj.end - 1]
    if body.strip():  # only comments inside: keep them, add after
        stripped = body.rstrip(" \t")
        sep = "" if stripped.endswith("\n") else style.newline
        return (text[:obj.start + 1] + stripped + sep + inner + member + style.newline + outer + "}"
                + text[obj.end:])
    return text[:obj.start + 1] + style.newline + inner + member + style.newline + outer + "}" + text[obj.end:]


def replace_value(text: str, member: Member, value: Any, style: Style) -> str:
    indent = line_indent(text, member.key_start)
    return text[:member.value.start] + dump(value, indent, style) + text[member.value.end:]


def remove_member(text: str, obj: Node, member: Member) -> str:
    """Remove a member with its comma (and its line, when it had one to itself)."""
    idx = obj.members.index(member)
    line_start = text.rfind("\n", 0, member.key_start) + 1
    own_line = text[line_start:member.key_start].strip() == ""
    if member.comma is None and idx > 0:
        # The last member without a trailing comma: take the comma before it instead.
        prev = obj.members[idx - 1]
        assert prev.comma is not None
        return text[:prev.comma] + text[member.value.end:]
    start = line_start if own_line else member.key_start
    end = member.comma + 1 if member.comma is not None else member.value.end
    nl = text.find("\n", end)
    if own_line and nl >= 0 and text[end:nl].strip() == "":
        end = nl + 1
    elif not own_line:
        while end < len(text) and text[end] in " \t":
            end += 1
    return text[:start] + text[end:]
