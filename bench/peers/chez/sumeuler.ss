;; sumeuler: the sum of Euler's totient over 1..n, each by counting the k with gcd 1.
(define (gcd2 a b) (if (= b 0) a (gcd2 b (remainder a b))))
(define (phi n)
  (let loop ([k 1] [acc 0])
    (if (> k n) acc (loop (+ k 1) (if (= (gcd2 n k) 1) (+ acc 1) acc)))))
(define n (string->number (cadr (command-line))))
(display (let loop ([i 1] [s 0]) (if (> i n) s (loop (+ i 1) (+ s (phi i))))))
(newline)
