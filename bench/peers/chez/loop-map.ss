;; loop-map: the sum of the squares of 1..n, from a list built completely first.
(define (range a b) (let loop ([b b] [acc '()]) (if (< b a) acc (loop (- b 1) (cons b acc)))))
(define n (string->number (cadr (command-line))))
(display (apply + (map (lambda (x) (* x x)) (range 1 n)))) (newline)
