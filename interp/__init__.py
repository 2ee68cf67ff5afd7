"""The reference interpreter: the executable definition of what Daisy programs mean.

values.py    the value kinds (atoms, cons cells, suspensions, closures, forms, errors)
machine.py   the evaluation machine: heap-allocated continuations, green threads for
             the fair primitives (`set`, `any?`), suspension claims, cycle detection
eval.py      the evaluator over the core IR (call by need, lazy patterns, annotations)
prims.py     the primitives of LANGUAGE.md section 6
printer.py   printed forms (section 7) as a token stream, and the spelling of tokens
forms.py     quoted forms: surface tree <-> form values, for `^`, `val` and `prsis`
streams.py   devices and stream stages: console, stdin, screen, scnis, prsis, prsos, scnos
"""
