-- sumeuler: the sum of Euler's totient over 1..n, each by counting the k with gcd 1;
-- the sums of chunks of 50 are sparked.
import Control.Parallel.Strategies (parMap, rseq)
import System.Environment (getArgs)

gcd' :: Int -> Int -> Int
gcd' a 0 = a
gcd' a b = gcd' b (a `rem` b)

phi :: Int -> Int
phi n = length [k | k <- [1 .. n], gcd' n k == 1]

main :: IO ()
main = do
  [a] <- getArgs
  let n = read a
  print (sum (parMap rseq (\lo -> sum (map phi [lo .. min (lo + 49) n])) [1, 51 .. n]))
