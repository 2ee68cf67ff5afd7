;; queens: the number of ways to place n queens, boards grown a row at a time.
(define (safe? q b)
  (let loop ([b b] [d 1])
    (or (null? b)
        (let ([r (car b)])
          (and (not (= q r)) (not (= q (+ r d))) (not (= q (- r d)))
               (loop (cdr b) (+ d 1)))))))
(define (extend bs n)
  (apply append
         (map (lambda (b)
                (let loop ([q n] [acc '()])
                  (if (= q 0) acc
                      (loop (- q 1) (if (safe? q b) (cons (cons q b) acc) acc)))))
              bs)))
(define (grow bs k n) (if (= k 0) bs (grow (extend bs n) (- k 1) n)))
(define (count-from q n) (length (grow (list (list q)) (- n 1) n)))
(define n (string->number (cadr (command-line))))
(display (let loop ([q 1] [s 0]) (if (> q n) s (loop (+ q 1) (+ s (count-from q n))))))
(newline)
