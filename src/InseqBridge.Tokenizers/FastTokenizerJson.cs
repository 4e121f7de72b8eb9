using System.Text.Json;
using InseqBridge.Tokenizers.ByteLevel;
using InseqBridge.Tokenizers.Common;

namespace InseqBridge.Tokenizers;

/// <summary>
/// Loader for Hugging Face's fast-tokenizer format (<c>tokenizer.json</c>), limited to byte-level BPE (GPT-2,
/// RoBERTa, Llama-3/Qwen2-style files without a normalizer): model <c>BPE</c>, pre-tokenizer <c>ByteLevel</c>,
/// post-processor <c>ByteLevel</c>, <c>RobertaProcessing</c>, <c>BertProcessing</c>, <c>TemplateProcessing</c> or a
/// <c>Sequence</c> of those. Anything else raises a <see cref="TokenizerLoadException"/> saying what is unsupported.
/// </summary>
internal static class FastTokenizerJson
{
    /// <summary>Loads <c>tokenizer.json</c> of <paramref name="folder"/>.</summary>
    public static IHfTokenizer Load(TokenizerFolder folder)
    {
        string path = folder.PathOf("tokenizer.json");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException($"'{path}' is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            try
            {
                return Build(folder, doc.RootElement, path);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
            {
                throw new TokenizerLoadException($"'{path}' does not have the expected tokenizer.json layout: {e.Message}", e);
            }
        }
    }

    private static SlowTokenizer Build(TokenizerFolder folder, JsonElement root, string path)
    {
        var model = root.GetProperty("model");
        string modelType = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "BPE";
        if (modelType != "BPE")
        {
            throw Unsupported(path, $"model type '{modelType}' (only byte-level BPE)");
        }
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            throw Unsupported(path, "a normalizer");
        }
        if (model.TryGetProperty("ignore_merges", out var ignore) && ignore.ValueKind == JsonValueKind.True)
        {
            throw Unsupported(path, "ignore_merges=true");
        }
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(affix, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() != "")
            {
                throw Unsupported(path, affix);
            }
        }
        var pre = root.GetProperty("pre_tokenizer");
        if (pre.ValueKind != JsonValueKind.Object || pre.GetProperty("type").GetString() != "ByteLevel" ||
            (pre.TryGetProperty("use_regex", out var regex) && regex.ValueKind == JsonValueKind.False))
        {
            throw Unsupported(path, "a pre-tokenizer other than ByteLevel with use_regex=true");
        }
        bool addPrefixSpace = pre.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True;

        var encoder = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            encoder[entry.Name] = entry.Value.GetInt32();
        }
        var merges = new List<(string, string)>();
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
            {
                merges.Add((merge[0].GetString()!, merge[1].GetString()!));
                continue;
            }
            string text = merge.GetString() ?? "";
            int space = text.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || text.IndexOf(' ', space + 1) >= 0)
            {
                throw new TokenizerLoadException($"'{path}': merge '{text}' is not two space-separated symbols.");
            }
            merges.Add((text[..space], text[(space + 1)..]));
        }

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in addedTokens.EnumerateArray())
            {
                added.Add(new AddedToken(token.GetProperty("content").GetString()!, token.GetProperty("id").GetInt32(),
                    Flag(token, "special"), Flag(token, "lstrip"), Flag(token, "rstrip"), Flag(token, "single_word")));
            }
        }

        var postProcessor = root.TryGetProperty("post_processor", out var post) ? ParsePostProcessor(post, path) : null;
        string className = folder.TokenizerClass ?? "PreTrainedTokenizerFast";
        var bpe = new ByteLevelBpeModel(encoder, new BpeMergeTable(merges), isBart: false, addPrefixSpace,
            addBosToken: false, className, postProcessor ?? (ids => ids));
        return new SlowTokenizer(bpe, folder, added);
    }

    private static Func<List<int>, List<int>>? ParsePostProcessor(JsonElement post, string path)
    {
        if (post.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        string type = post.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "ByteLevel":
                return null;
            case "RobertaProcessing":
            case "BertProcessing":
                int cls = post.GetProperty("cls")[1].GetInt32();
                int sep = post.GetProperty("sep")[1].GetInt32();
                return ids => [cls, .. ids, sep];
            case "TemplateProcessing":
                var specialIds = new Dictionary<string, int[]>(StringComparer.Ordinal);
                foreach (var entry in post.GetProperty("special_tokens").EnumerateObject())
                {
                    specialIds[entry.Name] = [.. entry.Value.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
                }
                var template = new List<int[]?>();
                foreach (var item in post.GetProperty("single").EnumerateArray())
                {
                    if (item.TryGetProperty("SpecialToken", out var special))
                    {
                        template.Add(specialIds[special.GetProperty("id").GetString()!]);
                    }
                    else
                    {
                        template.Add(null); // the sequence itself
                    }
                }
                return ids =>
                {
                    var result = new List<int>(ids.Count + template.Count);
                    foreach (var part in template)
                    {
                        result.AddRange(part ?? (IEnumerable<int>)ids);
                    }
                    return result;
                };
            case "Sequence":
                var steps = new List<Func<List<int>, List<int>>>();
                foreach (var processor in post.GetProperty("processors").EnumerateArray())
                {
                    if (ParsePostProcessor(processor, path) is { } step)
                    {
                        steps.Add(step);
                    }
                }
                return ids =>
                {
                    foreach (var step in steps)
                    {
                        ids = step(ids);
                    }
                    return ids;
                };
            default:
                throw Unsupported(path, $"post-processor '{type}'");
        }
    }

    private static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static TokenizerLoadException Unsupported(string path, string what) =>
        new($"'{path}' uses {what}, which this port does not support; save the tokenizer with use_fast=False " +
            "(vocab.json + merges.txt, or the SentencePiece files) instead.");
}
