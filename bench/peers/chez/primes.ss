;; primes: the nth prime, from the lazy sieve over an infinite stream of promises.
(define-syntax scons
  (syntax-rules () [(_ a b) (cons a (delay b))]))
(define (stail s) (force (cdr s)))
(define (ints-from n) (scons n (ints-from (+ n 1))))
(define (sfilter p s)
  (if (zero? (remainder (car s) p))
      (sfilter p (stail s))
      (scons (car s) (sfilter p (stail s)))))
(define (sieve s) (scons (car s) (sieve (sfilter (car s) (stail s)))))
(define (nth n s) (if (= n 1) (car s) (nth (- n 1) (stail s))))
(display (nth (string->number (cadr (command-line))) (sieve (ints-from 2)))) (newline)
