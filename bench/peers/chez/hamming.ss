;; hamming: the nth Hamming number, from the stream defined in terms of itself.
(define-syntax scons
  (syntax-rules () [(_ a b) (cons a (delay b))]))
(define (stail s) (force (cdr s)))
(define (scale k s) (scons (* k (car s)) (scale k (stail s))))
(define (merge a b)
  (let ([x (car a)] [y (car b)])
    (cond [(< x y) (scons x (merge (stail a) b))]
          [(> x y) (scons y (merge a (stail b)))]
          [else (scons x (merge (stail a) (stail b)))])))
(define ham (scons 1 (merge (scale 2 ham) (merge (scale 3 ham) (scale 5 ham)))))
(define (nth n s) (if (= n 1) (car s) (nth (- n 1) (stail s))))
(display (nth (string->number (cadr (command-line))) ham)) (newline)
