-- pfib: nfib with its first recursive call sparked at and above 20, the shape of
-- bench/programs/nfib.dsy (the bigger call sparked, the smaller one evaluated, then
-- the spark's value demanded).
import Control.Parallel (par, pseq)
import System.Environment (getArgs)

nfib :: Int -> Int
nfib n
  | n < 2 = 1
  | n < 20 = nfib (n - 1) + nfib (n - 2) + 1
  | otherwise = a `par` (b `pseq` (b + a + 1))
  where
    a = nfib (n - 1)
    b = nfib (n - 2)

main :: IO ()
main = do
  [n] <- getArgs
  print (nfib (read n))
