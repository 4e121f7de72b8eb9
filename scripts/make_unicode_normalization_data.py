#!/usr/bin/env python3
# Writes src/InseqBridge.Tokenizers/Fast/UnicodeNormalization.data.gz, the tables of Unicode normalization (NFC, NFD,
# NFKC, NFKD) that the tokenizer.json normalizers need: .NET's string.Normalize is ASCII-only in invariant
# globalization mode, which this project uses. Source: the Unicode Character Database (Debian package unicode-data,
# /usr/share/unicode): UnicodeData.txt (combining classes, decompositions) and DerivedNormalizationProps.txt
# (Full_Composition_Exclusion). Line format: "CP;CCC;K;D1 D2 ..." (hex code points; K = 1 for a compatibility
# decomposition, 0 for canonical; D empty when the character has no decomposition), then "X;START;END" lines for
# the composition exclusions.
import gzip, os, sys
ucd = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "InseqBridge.Tokenizers", "Fast", "UnicodeNormalization.data.gz")
lines = []
for line in open(os.path.join(ucd, "UnicodeData.txt"), encoding="utf-8"):
    f = line.split(";")
    cp, ccc, dec = f[0], int(f[3]), f[5].strip()
    if ccc == 0 and not dec:
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
