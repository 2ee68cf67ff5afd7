"""queens: the number of ways to place n queens, boards grown a row at a time."""
import sys


def safe(q, board):
    return all(q != r and q != r + d and q != r - d for d, r in enumerate(board, 1))


def extend(boards, n):
    return [[q] + b for b in boards for q in range(1, n + 1) if safe(q, b)]


def count_from(q, n):
    boards = [[q]]
    for _ in range(n - 1):
        boards = extend(boards, n)
    return len(boards)


n = int(sys.argv[1])
print(sum(count_from(q, n) for q in range(1, n + 1)))
