using System.Text.Json;
using InseqBridge.Errors;

namespace InseqBridge.TorchSharp.Checkpoints;

/// <summary>
/// The decoding settings of <c>generation_config.json</c>, falling back to <c>config.json</c> for the token ids
/// (as transformers does when a checkpoint has no generation config).
/// </summary>
public sealed record GenerationConfig
{
    /// <summary>Ids that end a sequence.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>Padding id used for finished sequences (falls back to the first eos id, as generate() does).</summary>
    public int? PadTokenId { get; init; }

    /// <summary><c>bos_token_id</c>.</summary>
    public int? BosTokenId { get; init; }

    /// <summary>First decoder token of encoder-decoder models.</summary>
    public int? DecoderStartTokenId { get; init; }

    /// <summary>Token forced as the first generated token.</summary>
    public int? ForcedBosTokenId { get; init; }

    /// <summary>Token forced when the maximum length is reached.</summary>
    public int? ForcedEosTokenId { get; init; }

    /// <summary>Token sequences that may never be generated (single-token entries ban the token outright).</summary>
    public IReadOnlyList<IReadOnlyList<int>> BadWordsIds { get; init; } = [];

    /// <summary><c>max_length</c> (prompt included for decoder-only models).</summary>
    public int MaxLength { get; init; } = 20;

    /// <summary><c>max_new_tokens</c>; overrides <see cref="MaxLength"/> when set.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary><c>min_length</c>.</summary>
    public int MinLength { get; init; }

    /// <summary><c>min_new_tokens</c>.</summary>
    public int? MinNewTokens { get; init; }

    /// <summary><c>no_repeat_ngram_size</c>.</summary>
    public int NoRepeatNgramSize { get; init; }

    /// <summary><c>repetition_penalty</c>.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary><c>do_sample</c>.</summary>
    public bool DoSample { get; init; }

    /// <summary><c>temperature</c>.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary><c>top_k</c>.</summary>
    public int TopK { get; init; } = 50;

    /// <summary><c>top_p</c>.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Reads generation_config.json (when present) over the model config's defaults.</summary>
    public static GenerationConfig Load(string directory, ModelConfig model)
    {
        var config = new GenerationConfig
        {
            EosTokenIds = model.EosTokenIds,
            PadTokenId = model.PadTokenId,
            BosTokenId = model.BosTokenId,
            DecoderStartTokenId = model.DecoderStartTokenId,
            ForcedBosTokenId = (model as BartConfig)?.ForcedBosTokenId ?? (model as M2M100Config)?.ForcedBosTokenId,
            ForcedEosTokenId = (model as BartConfig)?.ForcedEosTokenId ?? (model as M2M100Config)?.ForcedEosTokenId,
            BadWordsIds = ReadBadWords(model.Raw),
        };
        string path = Path.Combine(directory, "generation_config.json");
        if (!File.Exists(path))
        {
            return config;
        }

        JsonElement root;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is not valid JSON: {e.Message}", e);
        }

        try
        {
            var r = new ConfigReader(root, path);
            return config with
            {
                EosTokenIds = r.Has("eos_token_id") ? r.IntList("eos_token_id") : config.EosTokenIds,
                PadTokenId = r.IntOrNull("pad_token_id") ?? config.PadTokenId,
                BosTokenId = r.IntOrNull("bos_token_id") ?? config.BosTokenId,
                DecoderStartTokenId = r.IntOrNull("decoder_start_token_id") ?? config.DecoderStartTokenId,
                ForcedBosTokenId = r.Has("forced_bos_token_id") ? r.IntOrNull("forced_bos_token_id") : config.ForcedBosTokenId,
                ForcedEosTokenId = r.Has("forced_eos_token_id") ? r.IntOrNull("forced_eos_token_id") : config.ForcedEosTokenId,
                BadWordsIds = r.Has("bad_words_ids") ? ReadBadWords(root) : config.BadWordsIds,
                MaxLength = r.Int("max_length", 20),
                MaxNewTokens = r.IntOrNull("max_new_tokens"),
                MinLength = r.Int("min_length", 0),
                MinNewTokens = r.IntOrNull("min_new_tokens"),
                NoRepeatNgramSize = r.Int("no_repeat_ngram_size", 0),
                RepetitionPenalty = r.Double("repetition_penalty", 1.0),
                DoSample = r.Bool("do_sample", false),
                Temperature = r.Double("temperature", 1.0),
                TopK = r.Int("top_k", 50),
                TopP = r.Double("top_p", 1.0),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new CheckpointException($"{path}: {e.Message}", e);
        }
    }

    private static IReadOnlyList<IReadOnlyList<int>> ReadBadWords(JsonElement root)
    {
        if (!root.TryGetProperty("bad_words_ids", out JsonElement v) || v.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return v.EnumerateArray().Select(seq => (IReadOnlyList<int>)seq.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
    }
}
