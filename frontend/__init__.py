"""The front end: source text to the core IR.

Read in pipeline order (driver/pipeline.py lists the passes):
  grammar.lark, parse.py   text -> surface tree (syntax.py)
  desugar.py               surface tree -> core IR (core.py): special forms, patterns
  resolve.py               names -> local slots, globals and primitives
  primcalls.py             known primitives applied to list literals -> PrimCall
diagnostics.py formats source errors; dump.py prints the IR for --dump-after.
"""
