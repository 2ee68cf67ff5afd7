;; quicksort: the thesis's quicksort (accumulator partition, append) of n LCG
;; integers; prints [length checksum].
(define (partition p l lo hi)
  (cond [(null? l) (values lo hi)]
        [(<= (car l) p) (partition p (cdr l) (cons (car l) lo) hi)]
        [else (partition p (cdr l) lo (cons (car l) hi))]))
(define (quick l)
  (if (or (null? l) (null? (cdr l))) l
      (let-values ([(lo hi) (partition (car l) (cdr l) '() '())])
        (append (quick lo) (cons (car l) (quick hi))))))
(define (randoms n seed)
  (if (= n 0) '()
      (let ([s (remainder (+ (* seed 1103515245) 12345) 2147483648)])
        (cons s (randoms (- n 1) s)))))
(define (report l)
  (let loop ([l l] [n 0] [acc 0])
    (if (null? l)
        (begin (display "[") (display n) (display " ") (display acc) (display "]") (newline))
        (loop (cdr l) (+ n 1) (remainder (+ (* acc 31) (car l)) 1000000007)))))
(report (quick (randoms (string->number (cadr (command-line))) 42)))
