"""Generated programs for the compile-time benchmarks (bench/test_jit.py,
bench/compile_speed.py): lines cycling through templates of ordinary Daisy code
(recursion, lists, patterns, spread entries, fixnum functions, sparks, `#`, floats,
quotation), numbered apart so that every definition is new. Deterministic."""

TEMPLATES = [
    "sq{i} = \\n. mpy:[n n]",
    "fib{i} = \\n. if:[lt?:[n 2] n add:[fib{i}:dcr:n fib{i}:sub:[n 2]]]",
    "app{i} = \\[L1 L2]. let:[[X ! Xs] L1 if:[nil?:L1 L2 [X ! $app{i}:[Xs L2]]]]",
    "take{i} = \\[n L]. if:[zero?:n [] nil?:L [] let:[[X ! Xs] L [X ! take{i}:[dcr:n Xs]]]]",
    "from{i} = \\n. [n ! from{i}:add:[n {k}]]",
    "take{i}:[5 (map:sq{i}):from{i}:{k}]",
    "part{i} = \\[p L lo hi]. let:[[X ! Xs] L if:[nil?:L [lo hi] le?:[X p] "
    "part{i}:[p Xs [X ! lo] hi] part{i}:[p Xs lo [X ! hi]]]]",
    "sum{i} = \\L. if:[nil?:L 0 let:[[X ! Xs] L add:[X sum{i}:Xs]]]",
    "sum{i}:app{i}:[[1 2 {k}] [4.5 -3]]",
    "comp{i} = \\[f g]. \\x. f:g:x",
    "(comp{i}:[sq{i} inc]):{k}",
    "take{i}:[3 fix:[x ! [0 {k} ! x]]]",
    "@#fib{i}:10",
    "if:[zero?:rem:[{k} 3] ^three eq?:[{k} 4] ^four ^other]",
    "let:[[a b ! r] [1 2 3 {k}] [b a ! r]]",
    "part{i}:[{k} [5 1 {k} 9 2] [] []]",
    "acc{i} = \\[f a L]. if:[nil?:L a acc{i}:[f f:[a hd{i}:L] tl{i}:L]]",
    "hd{i} = \\L. let:[[X ! Xs] L X]",
    "tl{i} = \\L. let:[[X ! Xs] L Xs]",
    "acc{i}:[add 0 countdown{i}:{k}]",
    "countdown{i} = \\n. if:[zero?:n [] [n ! countdown{i}:dcr:n]]",
    "(fc:[inc neg \\x. and:[x 255]]):[{k} {k} {k}]",
    "seq:[pcoerce:[sq{i}:{k} fib{i}:5] ^done]",
    "x{i} = mpy:[{k} 1.5e-3]",
]


def generated_program(lines: int, templates: list[str] = TEMPLATES) -> str:
    """`lines` lines cycling through `templates`, numbered apart."""
    out = []
    for n in range(lines):
        i = n // len(templates)
        out.append(templates[n % len(templates)].format(i=i, k=n % 97 + 1))
    return "\n".join(out) + "\n"
