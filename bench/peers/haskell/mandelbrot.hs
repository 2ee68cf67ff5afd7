-- mandelbrot: points of an n x n grid over [-2,0.5] x [-1.25,1.25] that stay within
-- radius 2 for 50 iterations; each row is sparked.
import Control.Parallel.Strategies (parMap, rseq)
import System.Environment (getArgs)

inside :: Double -> Double -> Int
inside cr ci = go 0 0 (50 :: Int)
  where
    go _ _ 0 = 1
    go zr zi k
      | zr * zr + zi * zi > 4 = 0
      | otherwise = go (zr * zr - zi * zi + cr) (2 * zr * zi + ci) (k - 1)

row :: Int -> Int -> Int
row n y = sum [inside (-2 + 2.5 * fromIntegral x / m) (-1.25 + 2.5 * fromIntegral y / m) | x <- [0 .. n - 1]]
  where
    m = fromIntegral n

main :: IO ()
main = do
  [a] <- getArgs
  let n = read a
  print (sum (parMap rseq (row n) [0 .. n - 1]))
