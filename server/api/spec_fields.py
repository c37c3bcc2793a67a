#!/usr/bin/env python3
"""spec_fields.py — the request bodies' field tables, made from api/openapi.yaml.

    python3 server/api/spec_fields.py api/openapi.yaml > build/gen/spec_fields.h

The spec is the one home of a body's fields: their names, JSON types and which
are required.  For every object schema of components.schemas (its own
properties, or those of a one-part allOf, with the schema's own `required`)
this writes a brace initialiser of field_t rows, in the spec's order:

    #define SPEC_FIELDS_OrgInput {{"name", F_STRING, true}, ...}

used as `static const field_t ORG_FIELDS[] = SPEC_FIELDS(OrgInput);` (api.h), and
SPEC_BODIES, each operation's body by method and path template, which
api_body_or_reply (common.c) finds by the request's route.
A property's type, after following $ref, one-part allOf and oneOf/anyOf, is
one of string, integer, boolean, object or array, or one of string, integer
or number together with null; anything else (no type, object or null, ...)
is F_ANY, which the handler checks itself.  The Makefile runs it (python3 with
python3-yaml, Debian packages) whenever the spec changes.
"""
import sys

try:
    import yaml
except ImportError:
    sys.exit("spec_fields.py: python3-yaml is missing (make deps installs it: apt-get install python3-yaml)")

TYPES = {
    ("string",): "F_STRING",
    ("integer",): "F_INT",
    ("boolean",): "F_BOOL",
    ("object",): "F_OBJECT",
    ("array",): "F_ARRAY",
    ("integer", "null"): "F_NUMBER_OR_NULL",
    ("null", "number"): "F_REAL_OR_NULL",
    ("null", "string"): "F_STRING_OR_NULL",
}


def main(path):
    with open(path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    schemas = spec["components"]["schemas"]

    def resolve(s):
        """A schema with its $ref and one-part allOf followed (their own keys win)."""
        while True:
            if "$ref" in s:
                s = {**schemas[s["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in s.items() if k != "$ref"}}
            elif len(s.get("allOf", ())) == 1:
                s = {**resolve(s["allOf"][0]), **{k: v for k, v in s.items() if k != "allOf"}}
            else:
                return s

    def json_types(s):
        s = resolve(s)
        alts = s.get("oneOf") or s.get("anyOf")
        if alts:
            return set().union(*(json_types(a) for a in alts))
        t = s.get("type")
        if t is None:
            return {"any"}
        return set(t) if isinstance(t, list) else {t}

    def rows(s):
        """The field_t rows of an object schema, or None."""
        s = resolve(s)
        props = s.get("properties")
        if not isinstance(props, dict) or not props:
            return None
        required = set(s.get("required", ()))
        return [f'{{"{p}", {TYPES.get(tuple(sorted(json_types(ps))), "F_ANY")}, {"true" if p in required else "false"}}}'
                for p, ps in props.items()]

    out = ["/* Made by server/api/spec_fields.py from api/openapi.yaml: do not edit. */",
           "#ifndef YZ_SPEC_FIELDS_H", "#define YZ_SPEC_FIELDS_H", ""]
    for name, s in schemas.items():
        r = rows(s)
        if r:
            out.append(f"#define SPEC_FIELDS_{name} {{{', '.join(r)}}}")
    out += ["", "/* {method, path template, fields, count}: each operation's JSON object body */",
            "#define SPEC_BODIES \\"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json") if isinstance(op, dict) else None
            r = rows(body["schema"]) if body else None
            if r:
                out.append(f'    {{HTTP_{method.upper()}, "{path}", (const field_t[]){{{", ".join(r)}}}, {len(r)}}}, \\')
    out += ["", "#endif"]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "api/openapi.yaml")
