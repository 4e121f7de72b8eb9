using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Tests.Fuzzing;
using Xunit.Abstractions;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// Fuzzing of the tokenizer loaders (see <see cref="FuzzHarness"/>): a checkpoint folder with one mutated file
/// (vocab.json, merges.txt, SentencePiece models, tokenizer_config.json, special_tokens_map.json, added_tokens.json)
/// either loads and then encodes and decodes text without error, or fails with a <see cref="TokenizerLoadException"/>.
/// Byte-level BPE folders are cut to their first 1,000 vocabulary entries so a mutant costs milliseconds.
/// </summary>
public sealed class TokenizerFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tok-fuzz").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("gpt2")]
    [InlineData("bart")]
    [InlineData("marian")]
    [InlineData("t5")]
    public void Loader_survives_a_mutated_file(string model)
    {
        Dictionary<string, byte[]> files = SmallFolder(model);
        string[] names = [.. files.Keys.Order(StringComparer.Ordinal)];
        long tried = FuzzHarness.Run(
            $"tokenizer-{model}",
            [.. names.Select(n => files[n])],
            mutant => Load(files, names, mutant),
            e => e is TokenizerLoadException,
            output.WriteLine);
        Assert.True(tried > 0);
    }

    private void Load(Dictionary<string, byte[]> files, string[] names, byte[] mutant)
    {
        // Which file the mutant replaces: the one whose original it came from (same size class is good enough).
        string target = names.OrderBy(n => Math.Abs(files[n].Length - mutant.Length)).First();
        string folder = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            foreach (var (name, bytes) in files)
            {
                File.WriteAllBytes(Path.Combine(folder, name), name == target ? mutant : bytes);
            }

            IHfTokenizer tokenizer = HfTokenizer.Load(folder);
            foreach (string text in new[] { "Hello world", "", " \t\n", "naïve café ✓ 😀", "\u0000\u001b[31m" })
            {
                IReadOnlyList<int> ids = tokenizer.Encode(text);
                _ = tokenizer.Decode(ids, skipSpecialTokens: false);
                _ = tokenizer.Decode(ids, skipSpecialTokens: true);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Dictionary<string, byte[]> SmallFolder(string model)
    {
        string dir = FixturePaths.Model(model);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string name in new[] { "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "source.spm", "target.spm", "spiece.model", "vocab.json", "merges.txt" })
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                files[name] = File.ReadAllBytes(path);
            }
        }

        if (files.ContainsKey("merges.txt"))
        {
            // Keep ids below 1,000 plus the special tokens, and the merges whose pieces and result survive.
            var vocab = JsonNode.Parse(files["vocab.json"])!.AsObject();
            var specials = new HashSet<string>(StringComparer.Ordinal) { "<s>", "</s>", "<pad>", "<unk>", "<mask>", "<|endoftext|>" };
            var kept = new JsonObject();
            foreach (var (token, id) in vocab)
            {
                if (id!.GetValue<int>() < 1000 || specials.Contains(token))
                {
                    kept[token] = id.GetValue<int>();
                }
            }

            var lines = System.Text.Encoding.UTF8.GetString(files["merges.txt"]).Split('\n');
            var merges = lines.Take(1).Concat(lines.Skip(1).Where(l =>
            {
                string[] parts = l.Split(' ');
                return parts.Length == 2 && kept.ContainsKey(parts[0]) && kept.ContainsKey(parts[1]) && kept.ContainsKey(parts[0] + parts[1]);
            }));
            files["vocab.json"] = JsonSerializer.SerializeToUtf8Bytes(kept);
            files["merges.txt"] = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', merges) + "\n");
        }

        return files;
    }
}
