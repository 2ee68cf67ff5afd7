{-# LANGUAGE BangPatterns #-}
-- Common: the parts of the quicksort benchmarks that are not the sort.
module Common (partition, randoms, report) where

-- the thesis's partition: accumulators, so each half comes out reversed
partition :: Int -> [Int] -> [Int] -> [Int] -> ([Int], [Int])
partition _ [] lo hi = (lo, hi)
partition p (y : ys) lo hi
  | y <= p = partition p ys (y : lo) hi
  | otherwise = partition p ys lo (y : hi)

-- n pseudo-random integers in 0 .. 2^31-1 from a linear congruential generator
randoms :: Int -> Int -> [Int]
randoms 0 _ = []
randoms n seed = s : randoms (n - 1) s
  where
    s = (seed * 1103515245 + 12345) `rem` 2147483648

-- [length checksum]: the checksum depends on the order of the elements
report :: [Int] -> String
report = go 0 0
  where
    go !n !acc [] = "[" ++ show n ++ " " ++ show acc ++ "]"
    go !n !acc (x : xs) = go (n + 1) ((acc * 31 + x) `rem` 1000000007) xs
