;; tak: Takeuchi's function at (n, 2n/3, n/3).
(define (tak x y z)
  (if (< y x) (tak (tak (- x 1) y z) (tak (- y 1) z x) (tak (- z 1) x y)) z))
(define n (string->number (cadr (command-line))))
(display (tak n (quotient (* 2 n) 3) (quotient n 3))) (newline)
