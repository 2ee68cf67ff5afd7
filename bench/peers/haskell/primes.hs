-- primes: the nth prime, from the lazy sieve over an infinite list.
import System.Environment (getArgs)

primes :: [Int]
primes = sieve [2 ..]
  where
    sieve (p : xs) = p : sieve [x | x <- xs, x `rem` p /= 0]

main :: IO ()
main = do
  [a] <- getArgs
  print (primes !! (read a - 1))
