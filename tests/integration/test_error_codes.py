"""Every field-problem code the server can send is listed in the spec (FieldError.code's enum), so that the web
front end, whose Chinese texts are checked against that list by the type check (tests/typecheck), has a text
for it. Reads the sources, needs no server: the C calls that add a field error with a literal code, the codes of
server/domain's FAIL(code, why), and the fourth argument of the SQL functions' yz_raise(status, message, field,
code)."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

# C: the helpers that take (…, field, code, message); the code is the first literal shaped like a code
# (server/domain/validate.c states its codes with FAIL(code, why), which C_FAIL finds)
C_CALLS = re.compile(r"\b(?:http_error_add|err|api_bad_param|market_bad_param|bad_param|param_error|field_error)\s*\(([^;]*?)\)\s*;",
                     re.S)
C_FAIL = re.compile(r'\bFAIL\(\s*"([a-z_]+)"')
WORD = re.compile(r'"([a-z][a-z_]*)"')


def spec_codes():
    # libyaml's loader when PyYAML has it: the pure-Python one took 20 s of this module's 48 (load 9)
    spec = yaml.load((ROOT / "api/openapi.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return set(spec["components"]["schemas"]["FieldError"]["properties"]["code"]["enum"])


def c_codes():
    found = {}
    for path in sorted((ROOT / "server").rglob("*.c")):
        text = path.read_text()
        for m in C_CALLS.finditer(text):
            args = m.group(1)
            # (errs, field, code, message): the code is the third argument when it is a literal
            parts = split_args(args)
            if len(parts) >= 3:
                lit = WORD.fullmatch(parts[2].strip())
                if lit:
                    found.setdefault(lit.group(1), f"{path.relative_to(ROOT)}")
        for m in C_FAIL.finditer(text):
            found.setdefault(m.group(1), f"{path.relative_to(ROOT)}")
    return found


def sql_codes():
    """Literal codes given to yz_raise, and to any SQL function that hands one of its parameters on to yz_raise as
    the code (market_check_changeable(kind, status, verb, code), say), at that parameter's position."""
    texts = {path: path.read_text() for path in sorted((ROOT / "migrations").rglob("*.sql"))}
    raisers = {"yz_raise": 3}
    for text in texts.values():
        for m in re.finditer(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\(", text, re.I):
            params, end = balanced(text, m.end())
            names = [p.split()[0] for p in split_args(params) if p.strip()]
            body = text[end:text.find("$$;", text.find("$$", end) + 2)]
            for r in re.finditer(r"\byz_raise\s*\(", body):
                parts = split_args(balanced(body, r.end())[0])
                if len(parts) >= 4 and parts[3].strip() in names:
                    raisers[m.group(1)] = names.index(parts[3].strip())
    found = {}
    call = re.compile(r"\b(" + "|".join(map(re.escape, raisers)) + r")\s*\(")
    for path, text in texts.items():
        for m in call.finditer(text):
            args, _ = balanced(text, m.end())
            parts = split_args(args)
            at = raisers[m.group(1)]
            if len(parts) > at:
                lit = re.fullmatch(r"\s*'([a-z][a-z_]*)'\s*", parts[at])
                if lit:
                    found.setdefault(lit.group(1), f"{path.relative_to(ROOT)}")
    return found


def balanced(text, start):
    depth, i, quote = 1, start, None
    while i < len(text) and depth:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        i += 1
    return text[start:i - 1], i


def split_args(s):
    out, cur, depth, quote = [], "", 0, None
    for ch in s:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return out


def test_the_scan_finds_codes():
    """The scan itself works: it finds codes known to be sent from C and from SQL."""
    assert {"unknown_field", "wrong_type", "invalid_credit_code", "https_required"} <= set(c_codes())
    assert {"before_effective", "not_editable", "not_deletable", "too_low"} <= set(sql_codes())


def test_every_code_the_server_sends_is_in_the_spec():
    listed = spec_codes()
    sent = {**sql_codes(), **c_codes()}
    missing = {code: where for code, where in sent.items() if code not in listed}
    assert not missing, ("codes sent but missing from FieldError.code in api/openapi.yaml (add them there, and their "
                         f"Chinese text to web/app/errors.js): {missing}")
