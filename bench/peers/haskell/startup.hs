-- startup: print the size and stop (the fixed cost of running a program).
import System.Environment (getArgs)

main :: IO ()
main = do
  [a] <- getArgs
  print (read a :: Int)
