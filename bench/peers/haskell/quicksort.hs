-- quicksort: the thesis's quicksort (accumulator partition, append), lazy.
import Common (partition, randoms, report)
import System.Environment (getArgs)

quick :: [Int] -> [Int]
quick [] = []
quick [x] = [x]
quick (x : xs) = quick lo ++ (x : quick hi)
  where
    (lo, hi) = partition x xs [] []

main :: IO ()
main = do
  [a] <- getArgs
  putStrLn (report (quick (randoms (read a) 42)))
