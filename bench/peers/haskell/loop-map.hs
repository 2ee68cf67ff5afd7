-- loop-map: the sum of the squares of 1..n, from a list built completely first.
import Control.DeepSeq (force)
import Data.List (foldl')
import System.Environment (getArgs)

main :: IO ()
main = do
  [a] <- getArgs
  let xs = force (map (\x -> x * x) [1 .. read a :: Int])
  print (foldl' (+) 0 xs)
