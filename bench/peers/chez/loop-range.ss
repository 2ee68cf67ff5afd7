;; loop-range: build the list 1..n completely, then count it.
(define (range a b) (let loop ([b b] [acc '()]) (if (< b a) acc (loop (- b 1) (cons b acc)))))
(display (length (range 1 (string->number (cadr (command-line)))))) (newline)
