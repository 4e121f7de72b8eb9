#!/usr/bin/env node
// Renders every case of a chat-template case file with the Hugging Face JavaScript Jinja engine
// (npm @huggingface/jinja), the reference our own engine is checked against.
// usage: node scripts/chat_template_oracle.js CASES.json OUT.jsonl   (run `npm install @huggingface/jinja` first)
// CASES.json: {"templates": {"name": "template text", ...},
//              "cases": [{"id", "template", "messages", "add_generation_prompt", "variables"}]}
// OUT.jsonl: one line per case: {"id", "output"} or {"id", "error"} (the template raised or failed).
const fs = require("fs");
const { Template } = require("@huggingface/jinja");

const [casesPath, outPath] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(casesPath, "utf8"));
const lines = [];
for (const c of spec.cases) {
  const source = spec.templates[c.template];
  let line;
  try {
    const template = new Template(source);
    const context = Object.assign({}, c.variables || {}, {
      messages: c.messages,
      add_generation_prompt: !!c.add_generation_prompt,
    });
    line = { id: c.id, output: template.render(context) };
  } catch (e) {
    line = { id: c.id, error: String(e && e.message ? e.message : e) };
  }
  lines.push(JSON.stringify(line));
}
fs.writeFileSync(outPath, lines.join("\n") + "\n");
console.log(`${lines.length} cases rendered to ${outPath}`);
