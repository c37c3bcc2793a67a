#!/usr/bin/env python3
"""The pgbench anchors run exactly what the server runs: the statements taken
from the C source, the parameters taken from what the server sent.

    stmts.py extract SRC_C VAR
        Print the statement registered as `VAR = db_stmt_register*("…", n)` in
        SRC_C (C literals joined as the compiler joins them), or exit 1.  VAR
        is what the source assigns: `ST_REGION`, `RESULT.st_get`, `k->st_create`;
        a statement built by api_sql_printf() or api_page_sql() is matched as
        a template (bench/lib/sqlcheck.py: pattern) and has no one text.

    stmts.py capture PG_LOG START_BYTE SPEC.json OUT_DIR
        SPEC.json: {"figures": [{"name": ..., "statements": [{"src": ..., "var": ...}, ...],
                                 "vary": {"<stmt index>": {"<param no>": "<pgbench expr>"}},
                                 "pick": "last" | "all"}, ...]}
        Reads the PostgreSQL log from START_BYTE (written with
        log_min_duration_statement = 0 while bench/run.sh sent one probe
        request per figure, each probe between two marker statements
        `SELECT 'yizhan-bench probe <name>'`), finds for each figure the
        server's executions of its statements (their text must equal the
        source's, whitespace aside: that is the check that the anchor runs
        the server's SQL), and writes per figure OUT_DIR/<name>[-<i>].sql, a
        pgbench script, plus OUT_DIR/<name>.vars (one -D NAME=VALUE a line)
        and OUT_DIR/<name>.json (statements and captured parameters).
        Parameters the server sent as NULL are written as a typed NULL
        literal (pgbench cannot bind NULL); every other one becomes a pgbench
        variable with the value the server sent, except those named in
        "vary" (the id of the row, the request id), which get the given
        pgbench expression, e.g. ":id".  With "pick": "all", every captured
        execution of the figure becomes its own script (the search mix).
        Exit 1, naming the figure, when a statement was not seen.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqlcheck  # noqa: E402

MARK = re.compile(r"statement: SELECT 'yizhan-bench probe ([A-Za-z0-9_-]+)'")
EXEC = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] LOG:  duration: [0-9.]+ ms  execute [^:]*: (.*)$")
DETAIL = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] DETAIL:  parameters: (.*)$")
PARAM = re.compile(r"\$(\d+) = (NULL|'((?:[^']|'')*)')(?:, |$)")


def norm(sql):
    return re.sub(r"\s+", " ", sql).strip().rstrip(";").strip()


def pattern(src, var):
    """The regex the statement VAR of SRC must match (bench/lib/sqlcheck.py: pattern)."""
    with open(src, encoding="utf-8") as f:
        text = f.read()
    wrapper = None
    common = os.path.join(os.path.dirname(src), "common.c")
    if os.path.exists(common):
        with open(common, encoding="utf-8") as f:
            wrapper = sqlcheck.page_wrapper(f.read())
    return sqlcheck.pattern(text, var, wrapper)


def extract(src, var):
    """The statement's text when it is one literal (no printf holes), else None."""
    p = pattern(src, var)
    if p is None:
        return None
    text = re.sub(r"\\(.)", r"\1", p)
    return text if re.fullmatch(p, text) else None


def parse_params(text):
    out = {}
    pos = 0
    while pos < len(text):
        m = PARAM.match(text, pos)
        if not m:
            raise ValueError("cannot parse parameters at %r" % text[pos:pos + 60])
        out[int(m.group(1))] = None if m.group(2) == "NULL" else m.group(3).replace("''", "'")
        pos = m.end()
    return out


def read_log(path, start):
    """[(probe name or None, sql, {n: value})] in log order."""
    with open(path, "rb") as f:
        f.seek(start)
        lines = f.read().decode("utf-8", "replace").splitlines()
    out, probe, pending = [], None, {}
    for line in lines:
        m = MARK.search(line)
        if m:
            probe = m.group(1)
            continue
        m = EXEC.match(line)
        if m:
            pending[m.group(1)] = len(out)
            out.append([probe, norm(m.group(2)), {}])
            continue
        m = DETAIL.match(line)
        if m and m.group(1) in pending:
            out[pending.pop(m.group(1))][2] = parse_params(m.group(2))
    return out


def cast_of(sql, n):
    m = re.search(r"\$%d::(\w+(?:\[\])?)" % n, sql)
    return m.group(1) if m else None


def script_sql(sql, params, vary, prefix):
    """The statement with $n replaced; returns (sql, {var: value})."""
    variables = {}

    def sub(m):
        n = int(m.group(1))
        if str(n) in vary:
            return vary[str(n)]
        v = params.get(n)
        if v is None:
            # A typed NULL keeps the statement's types where the source casts;
            # elsewhere PostgreSQL resolves an untyped NULL from context.
            return "NULL" if cast_of(sql, n) else "NULL::text"
        name = "%s_%d" % (prefix, n)
        variables[name] = v
        return ":" + name

    return re.sub(r"\$(\d+)(?!\d)", sub, sql), variables


def capture(log, start, spec_path, out_dir):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    entries = read_log(log, int(start))
    os.makedirs(out_dir, exist_ok=True)
    ok = True
    for fig in spec["figures"]:
        name = fig["name"]
        stmts = []
        for s in fig["statements"]:
            pat = pattern(s["src"], s["var"])
            if pat is None:
                sys.stderr.write("stmts: %s: no %s = db_stmt_register(...) in %s\n" % (name, s["var"], s["src"]))
                ok = False
                break
            stmts.append({"src": s["src"], "var": s["var"], "pattern": pat})
        else:
            mine = [e for e in entries if e[0] == name]
            # executions: for each statement in order, the captured ones (the text the
            # server ran must be the source's statement, whitespace aside)
            for st in stmts:
                st["sql"] = next((e[1] for e in mine if re.fullmatch(st["pattern"], e[1])), None)
            seen = [[e[2] for e in mine if e[1] == st["sql"]] for st in stmts]
            missing = [st["var"] for st, s in zip(stmts, seen) if not s]
            if missing:
                sys.stderr.write("stmts: %s: the server did not run %s during its probe (statements it ran: %s)\n"
                                 % (name, ", ".join(missing), "; ".join(sorted({e[1][:80] for e in mine})) or "none"))
                ok = False
                continue
            if fig.get("pick") == "all":
                # one statement per script; "skip": the first executions were warm-ups
                runs = [[p] for p in seen[0][int(fig.get("skip", 0)):]]
                if not runs:
                    sys.stderr.write("stmts: %s: nothing left after skipping %s executions\n" % (name, fig.get("skip")))
                    ok = False
                    continue
            else:
                runs = [[s[-1] for s in seen]]
            scripts, all_vars = [], {}
            for i, params_list in enumerate(runs):
                lines = ["-- %s: generated by bench/lib/stmts.py from the server's statements and the parameters"
                         " it sent (log capture)" % name]
                for j, (st, params) in enumerate(zip(stmts, params_list)):
                    prefix = "%s%s_%d" % (name.replace("-", "_"), "_%d" % i if len(runs) > 1 else "", j)
                    sql, variables = script_sql(st["sql"], params, fig.get("vary", {}).get(str(j), {}), prefix)
                    all_vars.update(variables)
                    lines.append("-- %s (%s)" % (st["var"], os.path.basename(st["src"])))
                    lines.extend(fig.get("pre", {}).get(str(j), []))
                    lines.append(sql + ";")
                path = os.path.join(out_dir, "%s%s.sql" % (name, "-%d" % i if len(runs) > 1 else ""))
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                scripts.append({"script": os.path.basename(path),
                                "params": [{str(k): v for k, v in sorted(p.items())} for p in params_list]})
            with open(os.path.join(out_dir, name + ".vars"), "w", encoding="utf-8") as f:
                for k, v in sorted(all_vars.items()):
                    if "\n" in v:
                        raise SystemExit("stmts: %s: a parameter holds a newline; pgbench -D cannot carry it" % name)
                    f.write("%s=%s\n" % (k, v))
            with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
                json.dump({"figure": name, "statements": [{k: v for k, v in st.items() if k != "pattern"} for st in stmts],
                           "scripts": scripts}, f, ensure_ascii=False, indent=1)
    return 0 if ok else 1


def main(argv):
    if len(argv) == 4 and argv[1] == "extract":
        sql = extract(argv[2], argv[3])
        if sql is None:
            sys.stderr.write("stmts: no %s = db_stmt_register(...) in %s%s\n" % (
                argv[3], argv[2], " with one text (a template)" if pattern(argv[2], argv[3]) else ""))
            return 1
        print(norm(sql))
        return 0
    if len(argv) == 6 and argv[1] == "capture":
        return capture(*argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
