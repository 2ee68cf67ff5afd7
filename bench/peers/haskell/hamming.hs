-- hamming: the nth Hamming number, from the list defined in terms of itself.
import System.Environment (getArgs)

ham :: [Int]
ham = 1 : merge (map (2 *) ham) (merge (map (3 *) ham) (map (5 *) ham))

merge :: [Int] -> [Int] -> [Int]
merge a@(x : xs) b@(y : ys)
  | x < y = x : merge xs b
  | x > y = y : merge a ys
  | otherwise = x : merge xs ys

main :: IO ()
main = do
  [a] <- getArgs
  print (ham !! (read a - 1))
