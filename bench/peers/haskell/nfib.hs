-- nfib: the number of calls nfib n makes; one call sparked above a threshold.
import Control.Parallel (par, pseq)
import System.Environment (getArgs)

nfib :: Int -> Int
nfib n
  | n < 2 = 1
  | n < 20 = nfib (n - 1) + nfib (n - 2) + 1
  | otherwise = a `par` (b `pseq` a + b + 1)
  where
    a = nfib (n - 1)
    b = nfib (n - 2)

main :: IO ()
main = do
  [a] <- getArgs
  print (nfib (read a))
