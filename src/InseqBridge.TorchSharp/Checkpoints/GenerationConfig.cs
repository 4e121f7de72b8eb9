using System.Text.Json;
using InseqBridge.Errors;

namespace InseqBridge.Native.Checkpoints;

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

    /// <summary><c>num_beams</c>: 1 for greedy search or sampling, more for beam search.</summary>
    public int NumBeams { get; init; } = 1;

    /// <summary><c>num_beam_groups</c> (diverse beam search when more than 1; not supported natively).</summary>
    public int NumBeamGroups { get; init; } = 1;

    /// <summary><c>length_penalty</c>: beam scores are divided by the generated length to this power.</summary>
    public double LengthPenalty { get; init; } = 1.0;

    /// <summary><c>early_stopping</c> of beam search.</summary>
    public BeamStopping EarlyStopping { get; init; } = BeamStopping.Heuristic;

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
            // transformers builds the generation config from config.json then; beam settings (Marian, BART) live there.
            string configPath = Path.Combine(directory, "config.json");
            try
            {
                return WithBeamSettings(config, new ConfigReader(model.Raw, configPath));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new CheckpointException($"{configPath}: {e.Message}", e);
            }
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
            return WithBeamSettings(config, r) with
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

    private static GenerationConfig WithBeamSettings(GenerationConfig config, ConfigReader r) => config with
    {
        NumBeams = r.Int("num_beams", 1),
        NumBeamGroups = r.Int("num_beam_groups", 1),
        LengthPenalty = r.Double("length_penalty", 1.0),
        EarlyStopping = !r.Root.TryGetProperty("early_stopping", out JsonElement stopping) ? BeamStopping.Heuristic : stopping.ValueKind switch
        {
            JsonValueKind.True => BeamStopping.Early,
            JsonValueKind.String when stopping.GetString() == "never" => BeamStopping.Never,
            _ => BeamStopping.Heuristic,
        },
    };

    private static IReadOnlyList<IReadOnlyList<int>> ReadBadWords(JsonElement root)
    {
        if (!root.TryGetProperty("bad_words_ids", out JsonElement v) || v.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return v.EnumerateArray().Select(seq => (IReadOnlyList<int>)seq.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
    }
}

/// <summary>When beam search stops (transformers' <c>early_stopping</c>).</summary>
public enum BeamStopping
{
    /// <summary><c>False</c>: stop when no open beam can beat the worst kept hypothesis at the current length.</summary>
    Heuristic,

    /// <summary><c>True</c>: stop as soon as <c>num_beams</c> hypotheses are complete.</summary>
    Early,

    /// <summary><c>"never"</c>: stop only when no open beam can beat the worst kept hypothesis at any length.</summary>
    Never,
}
