"""The names the language predefines (LANGUAGE.md sections 3 and 6), for the front end.

The front end needs only the names and the arities of the list-taking primitives; what
each one does is defined by the engines (interp/prims.py for the reference interpreter).
A test checks that every engine defines exactly these names.
"""

# Primitives that take a list of exactly N operands; `primcalls` turns `p:[a b]` into a
# PrimCall only when the literal has that many elements and no tail.
LIST_ARITY = {
    "sub": 2, "div": 2, "rem": 2,
    "and": 2, "or": 2, "xor": 2, "lsh": 2, "rsh": 2, "arsh": 2,
    "lt?": 2, "le?": 2, "eq?": 2, "ne?": 2, "ge?": 2, "gt?": 2,
}
# Primitives over a list of any length.
VARIADIC = {"add", "mpy", "seq", "set", "any?", "pcoerce"}

UNARY = {
    "neg", "inc", "dcr", "inv", "not",
    "zero?", "one?", "neg?", "pos?",
    "nil?", "list?", "isLST?", "isNML?", "isIDE?", "isFTN?", "isAPL?", "isERR?",
    "map", "smap", "fc", "val", "evlst",
    "console", "screen", "scnis", "prsis", "prsos", "scnos",
    "%SpnHd?", "%SpnTl?",
}
# Predefined names that are values rather than functions.
CONSTANTS = {"true", "nil", "stdin"}

PRIMITIVES = frozenset(LIST_ARITY) | VARIADIC | UNARY
LIST_TAKERS = frozenset(LIST_ARITY) | VARIADIC     # primitives whose operand is a list
PREDEFINED = PRIMITIVES | CONSTANTS
