;; mandelbrot: points of an n x n grid over [-2,0.5] x [-1.25,1.25] that stay within
;; radius 2 for 50 iterations.
(define (inside cr ci)
  (let loop ([zr 0.0] [zi 0.0] [k 50])
    (cond [(= k 0) 1]
          [(> (+ (* zr zr) (* zi zi)) 4.0) 0]
          [else (loop (+ (- (* zr zr) (* zi zi)) cr) (+ (* (* 2.0 zr) zi) ci) (- k 1))])))
(define n (string->number (cadr (command-line))))
(define (coord lo x) (+ lo (/ (* 2.5 x) n)))
(display
 (let rows ([y 0] [s 0])
   (if (= y n) s
       (rows (+ y 1)
             (let cols ([x 0] [s s])
               (if (= x n) s (cols (+ x 1) (+ s (inside (coord -2.0 x) (coord -1.25 y))))))))))
(newline)
