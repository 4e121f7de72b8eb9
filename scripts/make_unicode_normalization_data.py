#!/usr/bin/env python3
# Writes src/InseqBridge.Tokenizers/Fast/UnicodeNormalization.data.gz, the tables of Unicode normalization (NFC, NFD,
# NFKC, NFKD) that the tokenizer.json normalizers need: .NET's string.Normalize is ASCII-only in invariant
# globalization mode, which this project uses. Source: the Unicode Character Database (Debian package unicode-data,
# /usr/share/unicode): UnicodeData.txt (combining classes, decompositions) and DerivedNormalizationProps.txt
# (Full_Composition_Exclusion). Line format: "CP;CCC;K;D1 D2 ..." (hex code points; K = 1 for a compatibility
# decomposition, 0 for canonical; D empty when the character has no decomposition), then "X;START;END" lines for
# the composition exclusions. Only characters assigned in Unicode 9.0 or earlier (DerivedAge.txt) are listed: the Rust
# tokenizers library normalizes with Unicode 9.0 tables (crate unicode-normalization-alignments), so a character added
# later is left as it is, and a later combining mark counts as a starter (measured with npm tokenizers 0.23.2).
import gzip, os, sys
MAX_AGE = (9, 0)
ucd = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "InseqBridge.Tokenizers", "Fast", "UnicodeNormalization.data.gz")
age = {}
for line in open(os.path.join(ucd, "DerivedAge.txt"), encoding="utf-8"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    r, v = [x.strip() for x in line.split(";")]
    a = r.split("..")
    for c in range(int(a[0], 16), int(a[-1], 16) + 1):
        age[c] = tuple(int(x) for x in v.split("."))
lines = []
for line in open(os.path.join(ucd, "UnicodeData.txt"), encoding="utf-8"):
    f = line.split(";")
    cp, ccc, dec = f[0], int(f[3]), f[5].strip()
    if ccc == 0 and not dec:
        continue
    if age.get(int(cp, 16), (99, 0)) > MAX_AGE:
        continue
    compat = dec.startswith("<")
    if compat:
        dec = dec.split(">", 1)[1].strip()
    lines.append(f"{cp};{ccc};{1 if compat else 0};{dec}")
for line in open(os.path.join(ucd, "DerivedNormalizationProps.txt"), encoding="utf-8"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    parts = [p.strip() for p in line.split(";")]
    if parts[1] != "Full_Composition_Exclusion":
        continue
    r = parts[0].split("..")
    lines.append(f"X;{r[0]};{r[-1]}")
with gzip.GzipFile(out, "wb", mtime=0) as g:
    g.write(("\n".join(lines) + "\n").encode())
print(out, len(lines))
