-- quicksort-par: the same quicksort with both halves sparked and fully evaluated.
import Common (partition, randoms, report)
import Control.DeepSeq (force)
import Control.Parallel (par)
import System.Environment (getArgs)

quick :: [Int] -> [Int]
quick [] = []
quick [x] = [x]
quick (x : xs) = l `par` (h `par` (l ++ (x : h)))
  where
    (lo, hi) = partition x xs [] []
    l = force (quick lo)
    h = force (quick hi)

main :: IO ()
main = do
  [a] <- getArgs
  putStrLn (report (quick (randoms (read a) 42)))
