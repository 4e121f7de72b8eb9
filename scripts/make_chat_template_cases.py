#!/usr/bin/env python3
"""Writes tests/fixtures/chat-templates/cases.json: chat templates (the real ones of the tokenizer fixtures plus
templates written for the edge cases of the Jinja subset) x conversations. The expected outputs come from
scripts/chat_template_oracle.js (the Hugging Face JavaScript Jinja engine), never from our own engine.
usage: python3 scripts/make_chat_template_cases.py REAL_TOKENIZERS_DIR OUT_DIR"""
import json, os, sys

real_dir, out_dir = sys.argv[1], sys.argv[2]
templates, specials = {}, {}
for name in sorted(os.listdir(real_dir)):
    path = os.path.join(real_dir, name, "tokenizer_config.json")
    if not os.path.isfile(path):
        continue
    config = json.load(open(path))
    if isinstance(config.get("chat_template"), str):
        templates[name] = config["chat_template"]
        tok = {}
        for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
            v = config.get(key)
            if isinstance(v, dict):
                v = v.get("content")
            if isinstance(v, str):
                tok[key] = v
        specials[name] = tok

T = templates
T["chatml"] = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
T["inst"] = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""
T["whitespace"] = """Header
  {% for m in messages %}
    {# a comment line #}
    <{{ m.role }}>
      {%- if m.content %} {{ m.content }}{% endif %}
    {{- '|' -}}
    {#- stripped comment -#}
  {% endfor %}
{%- if add_generation_prompt %}
GEN {{ 'x' }}   {{- 'y' }}
{% endif %}
Tail   
"""
T["filters"] = """{%- for m in messages -%}
[{{ m.role|upper }}|{{ m.role|title }}|{{ m.content|trim|capitalize }}|{{ m.content|length }}|{{ m.content|replace(' ', '_') }}|{{ m.content|lower|trim }}]
{% endfor -%}
roles={{ messages|map(attribute='role')|join(',') }}
users={{ messages|selectattr('role', 'equalto', 'user')|list|length }}
others={{ messages|rejectattr('role', 'equalto', 'user')|map(attribute='role')|unique|join('+') }}
first={{ (messages|first).role }} last={{ (messages|last)['role'] }}
sorted={{ messages|map(attribute='role')|sort|join(' ') }} rev={{ messages|map(attribute='role')|reverse|join(' ') }}
json={{ messages[0]|tojson }}
jsonindent={{ {'a': [1, 2.5, none, true], 'b': 'é"\\n'}|tojson(indent=2) }}
num={{ '42'|int + 1 }} {{ '3.5'|float }} {{ 7|string + '!' }} {{ -3|abs }} {{ 2.567|round(2) }} {{ [1, 2, 3]|sum }} {{ [4, 2, 9]|min }} {{ [4, 2, 9]|max }}
dflt={{ undefined_name|default('fallback') }} {{ ''|default('empty', true) }} {{ messages|length > 2 }}
words={{ 'a b  c'|wordcount }} items={% for k, v in {'x': 1, 'y': 2}|items %}{{ k }}={{ v }};{% endfor %} ds={% for k, v in {'b': 1, 'a': 2}|dictsort %}{{ k }}{% endfor %}
indent={{ 'l1\\nl2\\n\\nl3'|indent(2) }}
"""
T["tests"] = """{%- for m in messages %}
{{ loop.index }}:{{ m.role is defined }},{{ m.missing is defined }},{{ m.missing is undefined }},{{ m.content is string }},{{ m.content is none }},{{ m is mapping }},{{ m.content is iterable }},{{ loop.index is odd }},{{ loop.index is even }},{{ loop.index is divisibleby(3) }},{{ loop.length is number }},{{ m.role is not equalto('user') }}
{%- endfor %}
"""
T["loops"] = """{%- for m in messages if m.role != 'system' -%}
{{ loop.index0 }}/{{ loop.index }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.length }}/{{ loop.first }}/{{ loop.last }}/{{ loop.cycle('odd', 'even') }}/{{ loop.previtem.role if loop.previtem is defined else '-' }}/{{ loop.nextitem.role if loop.nextitem is defined else '-' }}
{% for c in m.role %}{% if c == 's' %}{% continue %}{% endif %}{% if loop.index > 4 %}{% break %}{% endif %}{{ c }}{{ loop.index }}{% endfor %}
{% endfor -%}
{% for x in [] %}never{% else %}empty-else{% endfor %}
{% for i in range(3) %}{{ i }}{% endfor %} {% for i in range(1, 10, 3) %}{{ i }},{% endfor %} {% for i in range(5, 0, -2) %}{{ i }}{% endfor %}
{% set leaked = 'outer' %}{% for m in messages %}{% set leaked = m.role %}{% endfor %}leaked={{ leaked }}
{% set ns = namespace(count=0, last='') %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.last = m.role %}{% endfor %}ns={{ ns.count }},{{ ns.last }}
{% set a, b = 1, 'two' %}{{ a }}-{{ b }}
{% set block %}captured {{ messages|length }}{% endset %}{{ block }}
"""
T["macros"] = """{%- macro render(m, prefix='>', upper=false) -%}
{{ prefix }}{{ m.role|upper if upper else m.role }}: {{ m.content }}
{%- endmacro -%}
{%- for m in messages %}
{{ render(m) }}
{{ render(m, '#', upper=true) }}
{%- endfor %}
"""
T["expressions"] = """{%- set last = messages[-1] -%}
{{ messages[::-1]|map(attribute='role')|join(',') }}|{{ messages[1:]|length }}|{{ messages[:1][0].role }}|{{ last.content[:5] }}|{{ last.content[-3:] }}|{{ last.content[::2] }}
{{ 'user' in messages|map(attribute='role') }}|{{ 'tool' not in messages|map(attribute='role') }}|{{ 'ell' in 'hello' }}
{{ 7 // 2 }} {{ 7 % 3 }} {{ -7 // 2 }} {{ 2 ** 10 }} {{ 10 / 4 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 'ab' ~ 3 ~ true }} {{ 'x' * 3 }}
{{ 1 < 2 and 3 > 2 }} {{ not (1 == 1) }} {{ 1 != 2 or false }} {{ 'a' if messages|length > 1 else 'b' }} [{{ 'shown' if false }}]
{{ last.content.strip() }}|{{ '  pad  '.lstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,,c'.split(',') |join('/') }}|{{ 'a b  c'.split()|length }}|{{ 'k=v=w'.split('=', 1)|last }}
{{ last.content.startswith('He') }} {{ last.content.endswith(('!', '?')) }} {{ 'Hello'.upper() }} {{ 'Hello'.lower() }} {{ 'hello world'.title() }} {{ 'a-b-c'.replace('-', '+') }}
{{ {'k': 'v'}.get('k') }} {{ {'k': 'v'}.get('z', 'none-found') }} {% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %} {% for k, v in {'p': 1}.items() %}{{ k }}{{ v }}{% endfor %}
{{ "double \\"quoted\\"" }} {{ 'single \\'quoted\\'' }} {{ 'tab\\there' }} {{ 'con' 'cat' }}
"""
T["parts"] = """{%- for message in messages -%}
<{{ message.role }}>
{%- if message.content is string -%}
{{ message.content }}
{%- else -%}
{%- for part in message.content -%}
{%- if part.type == 'text' %}[text:{{ part.text }}]{% elif part.type == 'image' %}[image]{% endif -%}
{%- endfor -%}
{%- endif -%}
</{{ message.role }}>
{% endfor -%}
"""
T["misc"] = """{%- raw %}{{ not rendered }} {% if %}{% endraw %}
{{ none }}|{{ [1, 'a', none, true, 2.5] }}|{{ {'k': 'v', 'n': 1} }}|{{ (1, 'b') }}|{{ 1.0 }}|{{ 1e20 }}|{{ 0.1 + 0.2 }}|{{ 1.5e-7 }}|{{ 10 / 2 }}
{{ messages|tojson(indent=2, sort_keys=true) }}
{{ {'é': 'ü'}|tojson(true) }}|{{ [1, {'a': 2}]|tojson(separators=(',', ':')) }}
{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inner {{ messages|length }}{% endcall %}
{% filter upper %}filtered {{ messages[0].role }}{% endfilter %}
{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{% endfor %}
{{ messages[0].content[::-1] }}|{{ [1, 2, 3, 4, 5][-2:] }}|{{ [1, 2, 3, 4, 5][4:1:-2] }}|{{ '\x41\u00e9' }}|{{ none is none }}|{{ true is sameas true }}
{{ messages|map(attribute='content')|map('length')|list }}|{{ messages|selectattr('content')|list|length }}|{{ ['b', 'A', 'c']|sort|join }}|{{ ['b', 'A', 'c']|sort(case_sensitive=true)|join }}
{{ 'Mixed Case'|lower is lower }}|{{ 3 is integer }}|{{ 3.0 is float }}|{{ 'x' is sequence }}|{{ range(3)|list }}|{{ [3, 1]|first }}|{{ 'abc'|first }}|{{ 'abc'|last }}
"""

def msgs(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]

conversations = {
    "single": msgs(("user", "Hello, how are you?")),
    "system": msgs(("system", "You are a helpful assistant."), ("user", "What is 2 + 2?")),
    "multi": msgs(("user", "Hi!"), ("assistant", "Hello! How can I help?"), ("user", "Tell me a joke.")),
    "system_multi": msgs(("system", "Be brief."), ("user", "Name a colour."), ("assistant", "Blue."), ("user", "Another one?")),
    "unicode": msgs(("user", "日本語で答えて 😀 — naïve café, עברית")),
    "whitespace": msgs(("user", "  padded text with spaces  \n\n"), ("assistant", "\tanswer\t")),
    "bad_order": msgs(("assistant", "I speak first"), ("user", "odd")),
    "think": msgs(("user", "Solve x+1=2"), ("assistant", "<think>\nx is 1\n</think>\n\nx = 1"), ("user", "Thanks!")),
    "empty_content": msgs(("user", "")),
}
parts_conversation = [
    {"role": "user", "content": [{"type": "text", "text": "  Describe  "}, {"type": "image"}, {"type": "text", "text": "this"}]},
    {"role": "assistant", "content": "A picture."},
]
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
tool_conversation = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "content": "18 C, sunny"},
]

default_specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
cases = []
for name in T:
    variables = specials.get(name, default_specials)
    convs = dict(conversations)
    if name in ("gemma3", "parts"):
        convs["parts"] = parts_conversation
    if name == "qwen3":
        convs["tool_calls"] = tool_conversation
    for conv_name, conv in convs.items():
        for gen in (False, True):
            cases.append({"id": f"{name}__{conv_name}__{'gen' if gen else 'nogen'}", "template": name,
                          "messages": conv, "add_generation_prompt": gen, "variables": variables})
    if name == "qwen3":
        v = dict(variables); v["tools"] = tools
        cases.append({"id": "qwen3__tools__gen", "template": name, "messages": tool_conversation,
                      "add_generation_prompt": True, "variables": v})
        v2 = dict(variables); v2["enable_thinking"] = False
        cases.append({"id": "qwen3__no_thinking__gen", "template": name, "messages": conversations["system"],
                      "add_generation_prompt": True, "variables": v2})

os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "cases.json"), "w") as f:
    json.dump({"templates": T, "cases": cases}, f, ensure_ascii=False, indent=1)
print(len(T), "templates,", len(cases), "cases")
