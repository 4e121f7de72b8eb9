using System.Text.Json;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// Every real tokenizer.json against Hugging Face's Rust library (npm <c>tokenizers</c> 0.23.2): ids and tokens with
/// and without special tokens, and decode with and without skip_special_tokens, on every string of the 214-string
/// corpus (<c>oracle.jsonl</c>, the issue's oracle) and the 260-string random corpus (<c>oracle_extra.jsonl</c>).
/// </summary>
public sealed class RustLibraryOracleTests
{
    [RealTokenizerFact("llama2")]
    public void Llama2() => Check("llama2");

    [RealTokenizerFact("llama3_1")]
    public void Llama3_1() => Check("llama3_1");

    [RealTokenizerFact("qwen3")]
    public void Qwen3() => Check("qwen3");

    [RealTokenizerFact("gemma3")]
    public void Gemma3() => Check("gemma3");

    [RealTokenizerFact("claude")]
    public void Claude() => Check("claude");

    [RealTokenizerFact("deepseek_v3")]
    public void DeepSeekV3() => Check("deepseek_v3");

    [RealTokenizerFact("gemini")]
    public void Gemini() => Check("gemini");

    [RealTokenizerFact("gpt4o")]
    public void Gpt4o() => Check("gpt4o");

    [RealTokenizerFact("gptoss")]
    public void GptOss() => Check("gptoss");

    [RealTokenizerFact("llama3")]
    public void Llama3() => Check("llama3");

    [RealTokenizerFact("gpt35turbo")]
    public void Gpt35Turbo() => Check("gpt35turbo");

    private static void Check(string name)
    {
        var tokenizer = RealTokenizers.LoadRaw(name);
        var failures = new List<string>();
        int checkedStrings = 0;
        foreach (var file in new[] { "oracle.jsonl", "oracle_extra.jsonl" })
        {
            if (!File.Exists(Path.Combine(RealTokenizers.Folder(name), file)))
            {
                continue;
            }
            foreach (var r in RealTokenizers.ReadOracle(name, file))
            {
                checkedStrings++;
                var with = tokenizer.EncodeWithTokens(r.Text, addSpecialTokens: true);
                var without = tokenizer.EncodeWithTokens(r.Text, addSpecialTokens: false);
                void Expect(bool ok, string what, object got, object want)
                {
                    if (!ok)
                    {
                        failures.Add($"{file} #{r.Id} {JsonSerializer.Serialize(r.Text)}: {what}\n   got  {JsonSerializer.Serialize(got)}\n   want {JsonSerializer.Serialize(want)}");
                    }
                }
                Expect(with.Ids.SequenceEqual(r.IdsWith), "ids with special tokens", with.Ids, r.IdsWith);
                Expect(with.Tokens.SequenceEqual(r.TokensWith), "tokens with special tokens", with.Tokens, r.TokensWith);
                Expect(without.Ids.SequenceEqual(r.IdsWithout), "ids without special tokens", without.Ids, r.IdsWithout);
                Expect(without.Tokens.SequenceEqual(r.TokensWithout), "tokens without special tokens", without.Tokens, r.TokensWithout);
                string decoded = tokenizer.DecodeRaw(r.IdsWith, skipSpecialTokens: false);
                Expect(decoded == r.Decoded, "decode", decoded, r.Decoded);
                string skipped = tokenizer.DecodeRaw(r.IdsWith, skipSpecialTokens: true);
                Expect(skipped == r.DecodedSkipSpecial, "decode skip_special_tokens", skipped, r.DecodedSkipSpecial);
            }
        }
        Assert.True(checkedStrings >= 200, $"{name}: only {checkedStrings} oracle strings found");
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} mismatches of {checkedStrings} strings:\n{string.Join("\n", failures.Take(5))}");
    }
}
