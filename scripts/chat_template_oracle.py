#!/usr/bin/env python3
"""Renders every case of a chat-template case file with Python's Jinja2 set up as transformers sets it up for
apply_chat_template (sandboxed immutable environment, trim_blocks, lstrip_blocks, loop controls, a tojson filter
calling json.dumps with ensure_ascii=False, raise_exception and strftime_now globals).
usage: python3 scripts/chat_template_oracle.py CASES.json OUT.jsonl   (needs the jinja2 package)
OUT.jsonl: one line per case: {"id", "output"} or {"id", "error"}."""
import json, sys
from datetime import datetime
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols


class TemplateRaised(Exception):
    pass


def raise_exception(message):
    raise TemplateRaised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

cases_path, out_path = sys.argv[1], sys.argv[2]
spec = json.load(open(cases_path, encoding="utf-8"))
lines = []
for case in spec["cases"]:
    try:
        template = env.from_string(spec["templates"][case["template"]])
        context = dict(case.get("variables") or {})
        context.update(messages=case["messages"], add_generation_prompt=bool(case.get("add_generation_prompt")))
        lines.append({"id": case["id"], "output": template.render(**context)})
    except Exception as e:  # the template raised or failed: record the message
        lines.append({"id": case["id"], "error": f"{type(e).__name__}: {e}"})
with open(out_path, "w", encoding="utf-8") as f:
    for line in lines:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
print(f"{len(lines)} cases rendered with jinja2 {jinja2.__version__} to {out_path}")
