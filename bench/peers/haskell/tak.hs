-- tak: Takeuchi's function at (n, 2n/3, n/3).
import System.Environment (getArgs)

tak :: Int -> Int -> Int -> Int
tak x y z
  | y < x = tak (tak (x - 1) y z) (tak (y - 1) z x) (tak (z - 1) x y)
  | otherwise = z

main :: IO ()
main = do
  [a] <- getArgs
  let n = read a
  print (tak n (2 * n `div` 3) (n `div` 3))
