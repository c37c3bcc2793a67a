#!/usr/bin/env python3
"""Make the pgbench anchor run the very statement the server prepares.

    sqlcheck.py extract SERVER_C_FILE STMT_VAR OUT_SQL_FILE
        Write a pgbench script holding the statement registered as
        `STMT_VAR = db_stmt_register[_read|_replica...]("..." "...", n)` in SERVER_C_FILE,
        with $1 written as :code. Exit 0 on success, 1 when not found.
    sqlcheck.py check SERVER_C_FILE BENCH_SQL_FILE
        Exit 0 when the statement in BENCH_SQL_FILE (a pgbench script:
        `--` comment lines, one statement with :code for $1) equals one of
        the SQL literals of SERVER_C_FILE, 1 when none does (the closest are
        printed), 2 when a file is missing.

C string literals are joined as the compiler joins adjacent ones; whitespace
is compared collapsed.
"""
import difflib
import re
import sys

_LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_ESC = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}


def _norm(sql):
    sql = re.sub(r"\s+", " ", sql).strip()
    sql = re.sub(r"\s*;\s*$", "", sql)
    # whitespace next to punctuation is not significant to PostgreSQL
    sql = re.sub(r"\s*([(),=])\s*", r"\1", sql)
    return sql


def _unescape(s):
    return re.sub(r"\\(.)", lambda m: _ESC.get(m.group(1), m.group(1)), s)


def _strip_comments(src):
    src = src.replace("\\\n", "")
    out, i, n = [], 0, len(src)
    while i < n:  # skip comments, but not "//" or "/*" inside string literals
        c = src[i]
        if c == '"':
            m = _LIT.match(src, i)
            if m:
                out.append(m.group(0))
                i = m.end()
                continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        out.append(c)
        i += 1
    return "".join(out)


def c_string_groups(src, start=0):
    """[(start, end, joined_text)] for every run of adjacent literals."""
    groups, cur, first, last_end = [], [], None, None
    for m in _LIT.finditer(src, start):
        if cur and src[last_end:m.start()].strip() == "":
            cur.append(_unescape(m.group(1)))
        else:
            if cur:
                groups.append((first, last_end, "".join(cur)))
            cur, first = [_unescape(m.group(1))], m.start()
        last_end = m.end()
    if cur:
        groups.append((first, last_end, "".join(cur)))
    return groups


def extract(src, var):
    src = _strip_comments(src)
    # db_stmt_register, db_stmt_register_read, db_stmt_register_replica, ...
    m = re.search(r"\b%s\s*=\s*db_stmt_register(?:_\w+)?\s*\(\s*" % re.escape(var), src)
    if not m or not src.startswith('"', m.end()):
        return None
    groups = c_string_groups(src, m.end())
    return groups[0][2] if groups and groups[0][0] == m.end() else None


_HOLE = re.compile(r"%(?:%|s|d|zu|ld|lld)")


def _template_regex(text, holes):
    """A regex for a printf template: fixed text literal (whitespace collapsed),
    each hole (in order) replaced by holes[i] (a regex), or by a lazy wildcard."""
    text = re.sub(r"\s+", " ", text).strip()
    out, i, k = [], 0, 0
    for m in _HOLE.finditer(text):
        out.append(re.escape(text[i:m.start()]))
        if m.group(0) == "%%":
            out.append("%")
        else:
            out.append(holes[k] if k < len(holes) and holes[k] is not None else r"[^;]*?")
            k += 1
        i = m.end()
    out.append(re.escape(text[i:]))
    return "".join(out)


def pattern(src, var, page_wrapper=None):
    """The statement registered as `VAR = db_stmt_register*(...)` in SRC (C text), as a
    regex over the statement with its whitespace collapsed, or None.  The SQL is a
    literal, `api_sql_printf("...%s...", ...)` (each hole any text) or
    `api_page_sql("...", n)` / `api_page_sql_ascending("...", n)` (the literal inside
    PAGE_WRAPPER, the template of api/common.c's page_sql, its holes filled as
    page_sql fills them: the rows, the limit's parameter number, the direction)."""
    src = _strip_comments(src)
    m = re.search(r"(?<![\w.>])%s\s*=\s*db_stmt_register(?:_\w+)?\s*\(\s*" % re.escape(var), src)
    if not m:
        return None
    pos = m.end()
    wrap = re.compile(r"(api_sql_printf|api_page_sql_ascending|api_page_sql)\s*\(\s*").match(src, pos)
    if wrap:
        pos = wrap.end()
    if not src.startswith('"', pos):
        return None
    groups = c_string_groups(src, pos)
    if not groups or groups[0][0] != pos:
        return None
    text = groups[0][2]
    if not wrap:
        return re.escape(re.sub(r"\s+", " ", text).strip())
    if wrap.group(1) == "api_sql_printf":
        return _template_regex(text, [])
    n = re.compile(r"\s*,\s*(\d+)\s*\)").match(src, groups[0][1])
    if not n or page_wrapper is None:
        return None
    inner = re.escape(re.sub(r"\s+", " ", text).strip())
    k = n.group(1)
    # page_sql's holes in order: rows, limit, dir, limit, dir, limit, last
    d, last = ("", "max") if wrap.group(1) == "api_page_sql_ascending" else (" DESC", "min")
    return _template_regex(page_wrapper, [inner, k, re.escape(d), k, re.escape(d), k, last])


def page_wrapper(common_src):
    """The template page_sql() (behind api_page_sql and api_page_sql_ascending) wraps a
    page's rows in (server/api/common.c)."""
    src = _strip_comments(common_src)
    m = re.search(r"\bpage_sql\s*\([^)]*\)\s*\{[^{}]*?return\s+api_sql_printf\s*\(\s*", src)
    if not m:
        return None
    groups = c_string_groups(src, m.end())
    return groups[0][2] if groups and groups[0][0] == m.end() else None


def bench_statement(text):
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith(("--", "\\")))
    return re.sub(r"(?<!:):code\b", "$1", body)


def main(argv):
    if len(argv) == 5 and argv[1] == "extract":
        try:
            src = open(argv[2], encoding="utf-8").read()
        except OSError as e:
            sys.stderr.write("sqlcheck: %s\n" % e)
            return 1
        sql = extract(src, argv[3])
        if sql is None or "$1" not in sql or re.search(r"\$[2-9]", sql) or re.search(r"(?<!:):code\b", sql):
            sys.stderr.write("sqlcheck: no one-parameter statement %s = db_stmt_register(...) in %s\n"
                             % (argv[3], argv[2]))
            return 1
        with open(argv[4], "w", encoding="utf-8") as f:
            f.write("-- extracted by bench/lib/sqlcheck.py from %s (%s), $1 written as :code\n" % (argv[2], argv[3]))
            f.write(re.sub(r"\$1\b", ":code", re.sub(r"\s+", " ", sql).strip()) + ";\n")
        return 0
    if len(argv) == 4 and argv[1] == "check":
        try:
            src = open(argv[2], encoding="utf-8").read()
            want = _norm(bench_statement(open(argv[3], encoding="utf-8").read()))
        except OSError as e:
            sys.stderr.write("sqlcheck: %s\n" % e)
            return 2
        cands = [g for _, _, g in c_string_groups(_strip_comments(src)) if "regions" in g.lower()]
        if any(_norm(g) == want for g in cands):
            return 0
        sys.stderr.write("sqlcheck: the statement in %s is not among the SQL literals of %s\n" % (argv[3], argv[2]))
        sys.stderr.write("  bench:  %s\n" % want)
        for g in difflib.get_close_matches(want, [_norm(c) for c in cands], n=2, cutoff=0.3):
            sys.stderr.write("  server: %s\n" % g)
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
