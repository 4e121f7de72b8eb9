using System.Text.Json;
using InseqBridge.Tokenizers.Fast;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// Small synthetic tokenizer.json files (<c>tests/fixtures/parity-real/tokenizers/synthetic</c>, made by
/// make_synthetic.py) covering what the real files do not use: WordPiece, Unigram (with and without byte fallback),
/// WordLevel, BPE with a subword prefix or word suffix, the BERT normalizer and pre-tokenizer, Split with every
/// behavior and invert, Digits, Punctuation, Whitespace, CharDelimiterSplit, FixedLength, Metaspace (first/always,
/// split or not), Nmt, NFD/NFKD/NFKC, StripAccents, Strip, Prepend, Replace, added tokens with lstrip, rstrip,
/// single_word and normalized, the WordPiece/Metaspace/CTC/BPE/ByteFallback/Fuse/Strip decoders and the Bert,
/// Roberta and Template post-processors. Expected outputs: Hugging Face's Rust library (make_oracle.js).
/// </summary>
public sealed class SyntheticComponentTests
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(Path.Combine(RealTokenizers.Root, "synthetic"), "*.oracle.jsonl").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(path)[..^".oracle.jsonl".Length]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void MatchesTheRustLibrary(string name)
    {
        string dir = Path.Combine(RealTokenizers.Root, "synthetic");
        var tokenizer = FastTokenizerLoader.LoadFile(Path.Combine(dir, name + ".json"));
        var failures = new List<string>();
        int count = 0;
        foreach (var line in File.ReadLines(Path.Combine(dir, name + ".oracle.jsonl")).Where(l => l.Length > 0))
        {
            count++;
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            string text = r.GetProperty("text").GetString()!;
            var with = tokenizer.EncodeWithTokens(text, true);
            var without = tokenizer.EncodeWithTokens(text, false);
            int[] idsWith = [.. r.GetProperty("ids_with_special_tokens").EnumerateArray().Select(e => e.GetInt32())];
            var checks = new (string What, bool Ok, object Got, object Want)[]
            {
                ("ids with special tokens", with.Ids.SequenceEqual(idsWith), with.Ids, idsWith),
                ("tokens with special tokens", with.Tokens.SequenceEqual(Strings(r, "tokens_with_special_tokens")), with.Tokens, Strings(r, "tokens_with_special_tokens")),
                ("ids without special tokens", without.Ids.SequenceEqual(r.GetProperty("ids_without_special_tokens").EnumerateArray().Select(e => e.GetInt32())), without.Ids, r.GetProperty("ids_without_special_tokens").ToString()),
                ("tokens without special tokens", without.Tokens.SequenceEqual(Strings(r, "tokens_without_special_tokens")), without.Tokens, Strings(r, "tokens_without_special_tokens")),
                ("decode", tokenizer.DecodeRaw(idsWith, false) == r.GetProperty("decoded").GetString(), tokenizer.DecodeRaw(idsWith, false), r.GetProperty("decoded").GetString()!),
                ("decode skip", tokenizer.DecodeRaw(idsWith, true) == r.GetProperty("decoded_skip_special").GetString(), tokenizer.DecodeRaw(idsWith, true), r.GetProperty("decoded_skip_special").GetString()!),
            };
            foreach (var (what, ok, got, want) in checks)
            {
                if (!ok)
                {
                    failures.Add($"{JsonSerializer.Serialize(text)}: {what}\n   got  {JsonSerializer.Serialize(got)}\n   want {JsonSerializer.Serialize(want)}");
                }
            }
        }
        Assert.True(count > 50, $"{name}: only {count} oracle lines");
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} mismatches:\n{string.Join("\n", failures.Take(4))}");
    }

    private static string[] Strings(JsonElement r, string name) => [.. r.GetProperty(name).EnumerateArray().Select(e => e.GetString()!)];
}
