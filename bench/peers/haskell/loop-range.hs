-- loop-range: build the list 1..n completely, then count it.
import Control.DeepSeq (force)
import System.Environment (getArgs)

main :: IO ()
main = do
  [a] <- getArgs
  print (length (force [1 .. read a :: Int]))
