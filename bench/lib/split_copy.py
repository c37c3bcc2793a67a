#!/usr/bin/env python3
"""Split a psql script of COPY blocks (bench/search/gen.py's output) so that
its big tables load in parallel.

    split_copy.py IN.sql OUT_PREFIX PARTS TABLE [TABLE...]

Writes OUT_PREFIX.head.sql (everything before the first COPY of a named
table: settings, the organisations), OUT_PREFIX.1.sql .. OUT_PREFIX.PARTS.sql
(each COPY block of a named table cut into PARTS consecutive slices, with its
COPY line repeated) and OUT_PREFIX.tail.sql (everything after: sequences,
ANALYZE).  Run head, then the parts at the same time, then tail.
"""
import sys


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    src, prefix, parts, tables = argv[1], argv[2], int(argv[3]), set(argv[4:])
    head, tail = [], []
    blocks = []  # (copy line, rows)
    state, cur = "head", None
    with open(src, encoding="utf-8") as f:
        for line in f:
            if cur is not None:
                if line == "\\.\n":
                    blocks.append(cur)
                    cur = None
                else:
                    cur[1].append(line)
                continue
            if line.startswith("COPY ") and line.split()[1] in tables:
                state = "blocks"
                cur = (line, [])
                continue
            (head if state == "head" else tail).append(line)
    if cur is not None:
        sys.stderr.write("split_copy: unterminated COPY block\n")
        return 1
    with open(prefix + ".head.sql", "w", encoding="utf-8") as f:
        f.writelines(head)
    for p in range(parts):
        with open("%s.%d.sql" % (prefix, p + 1), "w", encoding="utf-8") as f:
            f.write("SET client_min_messages = warning;\n")
            for copy, rows in blocks:
                n = len(rows)
                sl = rows[n * p // parts:n * (p + 1) // parts]
                f.write(copy)
                f.writelines(sl)
                f.write("\\.\n")
    with open(prefix + ".tail.sql", "w", encoding="utf-8") as f:
        f.writelines(tail)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
