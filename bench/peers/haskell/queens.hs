-- queens: the number of ways to place n queens, boards grown a row at a time as lazy
-- lists; the count for each first queen is sparked.
import Control.Parallel.Strategies (parMap, rseq)
import System.Environment (getArgs)

safe :: Int -> [Int] -> Bool
safe q b = and [q /= r && q /= r + d && q /= r - d | (d, r) <- zip [1 ..] b]

extend :: Int -> [[Int]] -> [[Int]]
extend n bs = [q : b | b <- bs, q <- [1 .. n], safe q b]

grow :: Int -> Int -> [[Int]] -> [[Int]]
grow _ 0 bs = bs
grow n k bs = grow n (k - 1) (extend n bs)

countFrom :: Int -> Int -> Int
countFrom n q = length (grow n (n - 1) [[q]])

main :: IO ()
main = do
  [a] <- getArgs
  let n = read a
  print (sum (parMap rseq (countFrom n) [1 .. n]))
