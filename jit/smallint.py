"""Tagged small-integer arithmetic as LLVM IR, for the generic code's inline paths
(jit/lower.py) and for fixnum workers (jit/fixnum.py).

A small integer n is the word 2n+1 (Note [Value tags] in rt/daisy_rt.h), so sums,
differences and products are computed on the tagged words directly, with LLVM's
overflow intrinsics. Each emitter gives the result word and an i1 that is set when the
result is not a small integer; what happens then (the runtime's primitive, or a fixnum
worker giving up) is the caller's business.
"""
from __future__ import annotations

from llvmlite import ir

from .abi import I64, fix, word

BOOL = ir.IntType(1)
OVF = ir.LiteralStructType([I64, BOOL])
ONE, TWO = word(1), word(2)

#: comparisons of two small integers: signed comparison of their words
COMPARE = {"lt?": "<", "le?": "<=", "gt?": ">", "ge?": ">=", "eq?": "==", "ne?": "!="}
#: tests of one small integer: (comparison, the integer compared with)
PREDICATE = {"zero?": ("==", 0), "one?": ("==", 1), "pos?": (">=", 0), "neg?": ("<", 0)}


def _checked(b: ir.IRBuilder, mg, op: str, x, y):
    f = mg.rt.intrinsic(f"llvm.{op}.with.overflow.i64", OVF, [I64, I64])
    res = b.call(f, [x, y])
    return b.extract_value(res, 0), b.extract_value(res, 1)


def binary(b: ir.IRBuilder, mg, name: str, x, y):
    """add, sub or mpy of two small-integer words: (word, overflowed)."""
    if name == "add":                       # (2a+1) - 1 + (2b+1)
        return _checked(b, mg, "sadd", b.sub(x, ONE), y)
    if name == "sub":                       # (2a+1) - ((2b+1) - 1)
        return _checked(b, mg, "ssub", x, b.sub(y, ONE))
    v, o = _checked(b, mg, "smul", b.ashr(x, ONE), b.sub(y, ONE))   # a * 2b, then the tag
    return b.or_(v, ONE), o


def unary(b: ir.IRBuilder, mg, name: str, x):
    """inc, dcr or neg of a small-integer word: (word, overflowed)."""
    if name == "inc":
        return _checked(b, mg, "sadd", x, TWO)
    if name == "dcr":
        return _checked(b, mg, "ssub", x, TWO)
    return _checked(b, mg, "ssub", TWO, x)             # -(2n+1) + 2 = 2(-n)+1


def predicate(b: ir.IRBuilder, name: str, x):
    op, k = PREDICATE[name]
    return b.icmp_signed(op, x, word(fix(k)))


def divide(b: ir.IRBuilder, fn: ir.Function, name: str, x, y, fail: ir.Block):
    """div or rem of two small-integer words, truncating as the interpreter does
    (interp/prims.py). A zero divisor, and the one quotient past the range (the least
    integer by -1), branch to `fail`; the word is returned in the block that goes on."""
    nonzero = fn.append_basic_block("divisor")
    b.cbranch(b.icmp_unsigned("==", y, word(fix(0))), fail, nonzero)
    b.position_at_end(nonzero)
    a, d = b.ashr(x, ONE), b.ashr(y, ONE)
    if name == "rem":
        return b.or_(b.shl(b.srem(a, d), ONE), ONE)
    q = b.sdiv(a, d)
    r = b.or_(b.shl(q, ONE), ONE)
    fits = fn.append_basic_block("quotient")
    b.cbranch(b.icmp_signed("==", b.ashr(r, ONE), q), fits, fail)
    b.position_at_end(fits)
    return r
