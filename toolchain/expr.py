"""Assembler expressions: parsing GNU ``as`` expression syntax into a small
tree, folding what is known, and evaluating the rest once addresses are final.

The grammar follows GNU ``as`` (its ``expr.c`` operator ranks, not C),
lowest first::

    ||
    &&
    ==  !=  <>  <  >  <=  >=
    +  -
    |  &  ^  !            (binary ``!`` is "or not", as in GNU)
    *  /  %  <<  >>
    unary  -  ~  !  +     and  %hi() %lo() %pcrel_hi() %pcrel_lo()

Comparisons give -1 for true and 0 for false, as GNU does.  Arithmetic wraps
to 64 bits (signed), division truncates toward zero and ``>>`` is a logical
(unsigned) shift — the behaviour of GNU ``as`` built for a 64-bit target,
checked against it on random expressions.

A tree is a tuple: ``("n", value)``, ``("s", name)``, ``(".",)``,
``("u", op, a)``, ``("b", op, a, b)``, ``("r", relfn, a)``.  Evaluation takes
a resolver ``sym(name) -> int`` that raises :class:`NotConstant` for an unknown
value, the address of ``.``, and a callback for ``%pcrel_lo``.
"""

from __future__ import annotations

import re
from typing import Callable

__all__ = ["ExprError", "NotConstant", "parse_expr", "evaluate", "fold",
           "symbols_in", "RELOC_FUNCS", "hi20", "lo12", "wrap64"]

MASK64 = (1 << 64) - 1

#: Relocation functions accepted in operands (GNU names).
RELOC_FUNCS = frozenset({"hi", "lo", "pcrel_hi", "pcrel_lo"})


class ExprError(Exception):
    """A malformed expression (the caller turns it into an AsmError)."""


class NotConstant(Exception):
    """Evaluation needs a value that is not known (yet)."""


def wrap64(v: int) -> int:
    """``v`` reduced to a signed 64-bit value, as GNU's offsetT holds it."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def hi20(v: int) -> int:
    """The ``lui``/``auipc`` immediate that, with :func:`lo12`, builds ``v``."""
    return ((v + 0x800) >> 12) & 0xFFFFF


def lo12(v: int) -> int:
    """The signed low 12 bits of ``v`` (what ``addi`` adds after ``lui``)."""
    v &= 0xFFF
    return v - 0x1000 if v & 0x800 else v


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<hex>0[xX][0-9a-fA-F]+)
  | (?P<bin>0[bB][01]+(?![0-9A-Za-z_.$]))
  | (?P<lref>[0-9]+[bfBF](?![0-9A-Za-z_.$]))
  | (?P<dec>[0-9]+)
  | (?P<chr>'(?:\\(?:[0-7]{1,3}|x[0-9a-fA-F]+|.)|[^\\]))'?
  | (?P<rel>%[A-Za-z_]+)
  | (?P<sym>[A-Za-z_.$][A-Za-z0-9_.$]*)
  | (?P<op><<|>>|==|!=|<>|<=|>=|&&|\|\||[-+*/%&|^~!()<>])
""", re.X)

_ESC = {"n": 10, "t": 9, "r": 13, "b": 8, "f": 12, "v": 11, "a": 7,
        "\\": 92, "'": 39, '"': 34, "0": 0, "e": 27}


def char_value(body: str) -> int:
    """The value of a character literal's body (without quotes)."""
    if body.startswith("\\"):
        rest = body[1:]
        if rest[:1] in "01234567" and rest:
            return int(rest, 8) & 0xFF
        if rest[:1] == "x" and len(rest) > 1:
            return int(rest[1:], 16) & 0xFF
        return _ESC.get(rest, ord(rest[0]) if rest else 92)
    return ord(body)


# Binary operator precedence (GNU as), larger binds tighter.
_BINPREC = {
    "||": 2, "&&": 3,
    "==": 5, "!=": 5, "<>": 5, "<": 5, ">": 5, "<=": 5, ">=": 5,
    "+": 7, "-": 7,
    "|": 8, "&": 8, "^": 8, "!": 8,
    "*": 9, "/": 9, "%": 9, "<<": 9, ">>": 9,
}


def _tokenize(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    pos, n = 0, len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            raise ExprError(f"unexpected character {text[pos]!r} in expression {text.strip()!r}")
        kind = m.lastgroup
        tok = m.group()
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "hex":
            out.append(("n", int(tok, 16)))
        elif kind == "bin":
            out.append(("n", int(tok[2:], 2)))
        elif kind == "dec":
            # A leading 0 means octal, as in GNU as.
            if len(tok) > 1 and tok[0] == "0":
                if any(c in "89" for c in tok):
                    raise ExprError(f"bad octal number {tok!r}")
                out.append(("n", int(tok, 8)))
            else:
                out.append(("n", int(tok)))
        elif kind == "lref":
            out.append(("lref", tok.lower()))
        elif kind == "chr":
            body = tok[1:-1] if tok.endswith("'") and len(tok) > 2 else tok[1:]
            out.append(("n", char_value(body)))
        elif kind == "rel":
            out.append(("rel", tok[1:]))
        elif kind == "sym":
            out.append(("s", tok))
        else:
            out.append(("op", tok))
    return out


class _Parser:
    __slots__ = ("toks", "i", "text", "lref")

    def __init__(self, toks, text, lref):
        self.toks = toks
        self.i = 0
        self.text = text
        self.lref = lref

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", None)

    def expr(self, minprec: int = 1):
        left = self.unary()
        while True:
            kind, val = self.peek()
            if kind != "op":
                return left
            prec = _BINPREC.get(val)
            if prec is None or prec < minprec:
                return left
            self.i += 1
            right = self.expr(prec + 1)
            left = ("b", val, left, right)

    def unary(self):
        kind, val = self.peek()
        if kind == "op" and val in ("-", "~", "!", "+"):
            self.i += 1
            operand = self.unary()
            return operand if val == "+" else ("u", val, operand)
        return self.primary()

    def primary(self):
        kind, val = self.peek()
        self.i += 1
        if kind == "n":
            return ("n", val)
        if kind == "s":
            if val == ".":
                return (".",)
            return ("s", val)
        if kind == "lref":
            if self.lref is None:
                raise ExprError(f"local label reference {val!r} not allowed here")
            return ("s", self.lref(val))
        if kind == "rel":
            name = val.lower()
            if name not in RELOC_FUNCS:
                raise ExprError(f"unknown relocation function %{val}")
            k2, v2 = self.peek()
            if (k2, v2) != ("op", "("):
                raise ExprError(f"%{val} needs a parenthesised operand")
            self.i += 1
            inner = self.expr()
            if self.peek() != ("op", ")"):
                raise ExprError(f"missing ')' after %{val}(")
            self.i += 1
            return ("r", name, inner)
        if kind == "op" and val == "(":
            inner = self.expr()
            if self.peek() != ("op", ")"):
                raise ExprError(f"missing ')' in expression {self.text.strip()!r}")
            self.i += 1
            return inner
        if kind == "eof":
            raise ExprError(f"missing operand in expression {self.text.strip()!r}")
        raise ExprError(f"unexpected {val!r} in expression {self.text.strip()!r}")


def parse_expr(text: str, lref: Callable[[str], str] | None = None):
    """Parse ``text`` into an expression tree.

    ``lref`` maps a numeric local reference (``"1b"``, ``"2f"``) to the name
    of the label it designates; without it such references are an error.
    Raises :class:`ExprError` on malformed input.
    """
    toks = _tokenize(text)
    if not toks:
        raise ExprError("missing expression")
    p = _Parser(toks, text, lref)
    tree = p.expr()
    if p.i != len(toks):
        raise ExprError(f"junk {toks[p.i][1]!r} at end of expression {text.strip()!r}")
    return tree


def symbols_in(tree) -> list[str]:
    """Names of the symbols ``tree`` refers to, in order."""
    out: list[str] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        tag = t[0]
        if tag == "s":
            out.append(t[1])
        elif tag == "u" or tag == "r":
            stack.append(t[2])
        elif tag == "b":
            stack.append(t[3])
            stack.append(t[2])
    return out


def _binop(op: str, a: int, b: int) -> int:
    if op == "+":
        return wrap64(a + b)
    if op == "-":
        return wrap64(a - b)
    if op == "*":
        return wrap64(a * b)
    if op == "/" or op == "%":
        if b == 0:
            raise ExprError("division by zero")
        q = abs(a) // abs(b)
        if (a < 0) != (b < 0):
            q = -q
        return wrap64(q) if op == "/" else wrap64(a - q * b)
    if op == "<<":
        return wrap64(a << b) if 0 <= b < 64 else 0
    if op == ">>":
        return wrap64((a & MASK64) >> b) if 0 <= b < 64 else 0
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "!":
        return wrap64(a | ~b)
    if op == "==":
        return -1 if a == b else 0
    if op in ("!=", "<>"):
        return -1 if a != b else 0
    if op == "<":
        return -1 if a < b else 0
    if op == ">":
        return -1 if a > b else 0
    if op == "<=":
        return -1 if a <= b else 0
    if op == ">=":
        return -1 if a >= b else 0
    if op == "&&":
        return 1 if (a and b) else 0
    if op == "||":
        return 1 if (a or b) else 0
    raise ExprError(f"unknown operator {op!r}")


def _fits32(v: int, what: str) -> int:
    """``v`` if lui/auipc + a 12-bit add can reach it on RV64 (as ld checks)."""
    if not -(1 << 31) <= v + 0x800 < (1 << 31):
        raise ExprError(f"{what} value {v:#x} out of range: needs a signed 32-bit value")
    return v


def evaluate(tree, sym: Callable[[str], int], dot: int | None = None,
             pcrel_lo: Callable[[int], int] | None = None) -> int:
    """The value of ``tree``.

    ``sym`` resolves names (raise :class:`NotConstant` if unknown); ``dot`` is
    the location counter (``None``: not known, so ``.`` is not constant);
    ``pcrel_lo(addr)`` returns the low part for the ``auipc`` at ``addr``.
    """
    tag = tree[0]
    if tag == "n":
        return tree[1]
    if tag == "s":
        return sym(tree[1])
    if tag == ".":
        if dot is None:
            raise NotConstant(".")
        return dot
    if tag == "b":
        return _binop(tree[1], evaluate(tree[2], sym, dot, pcrel_lo),
                      evaluate(tree[3], sym, dot, pcrel_lo))
    if tag == "u":
        v = evaluate(tree[2], sym, dot, pcrel_lo)
        op = tree[1]
        if op == "-":
            return wrap64(-v)
        if op == "~":
            return wrap64(~v)
        return 0 if v else 1
    if tag == "r":
        fn = tree[1]
        if fn == "pcrel_lo":
            if pcrel_lo is None or dot is None:
                raise NotConstant("%pcrel_lo")
            return pcrel_lo(evaluate(tree[2], sym, dot, pcrel_lo))
        v = evaluate(tree[2], sym, dot, pcrel_lo)
        if fn == "hi":
            return hi20(_fits32(v, "%hi"))
        if fn == "lo":
            return lo12(v)
        if fn == "pcrel_hi":
            if dot is None:
                raise NotConstant("%pcrel_hi")
            return hi20(_fits32(v - dot, "%pcrel_hi"))
    raise ExprError(f"bad expression node {tree!r}")


def fold(tree, sym: Callable[[str], int]):
    """``tree`` with every subtree that ``sym`` can evaluate replaced by its
    value (``.`` and PC-relative functions stay symbolic)."""
    tag = tree[0]
    if tag == "n" or tag == ".":
        return tree
    if tag == "s":
        try:
            return ("n", sym(tree[1]))
        except NotConstant:
            return tree
    if tag == "u":
        a = fold(tree[2], sym)
        if a[0] == "n":
            return ("n", evaluate(("u", tree[1], a), sym))
        return ("u", tree[1], a)
    if tag == "b":
        a = fold(tree[2], sym)
        b = fold(tree[3], sym)
        if a[0] == "n" and b[0] == "n":
            try:
                return ("n", _binop(tree[1], a[1], b[1]))
            except ExprError:
                pass  # (division by zero) reported where the value is used
        return ("b", tree[1], a, b)
    if tag == "r":
        a = fold(tree[2], sym)
        if a[0] == "n" and tree[1] in ("hi", "lo"):
            try:
                return ("n", evaluate(("r", tree[1], a), sym))
            except ExprError:
                pass  # reported where the value is used
        return ("r", tree[1], a)
    return tree
