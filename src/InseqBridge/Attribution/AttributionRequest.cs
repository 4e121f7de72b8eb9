using System.Text.Json.Nodes;
using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// What to attribute: the arguments of Inseq's <c>model.attribute(...)</c>, typed.
/// </summary>
/// <param name="InputTexts">Prompts (decoder-only) or source texts (encoder-decoder).</param>
public sealed record AttributionRequest(IReadOnlyList<string> InputTexts)
{
    /// <summary>Forced outputs (constrained decoding). Decoder-only: must start with the input text. Null: generate.</summary>
    public IReadOnlyList<string>? GeneratedTexts { get; init; }

    /// <summary>Overrides the model's default method for this call.</summary>
    public AttributionMethod? Method { get; init; }

    /// <summary>First attributed target position (default: after the prompt / decoder start). Negative counts from the end.</summary>
    public int? AttrPosStart { get; init; }

    /// <summary>One past the last attributed position (default: the end). Negative counts from the end.</summary>
    public int? AttrPosEnd { get; init; }

    /// <summary>Encoder-decoders: also attribute to the target prefix.</summary>
    public bool AttributeTarget { get; init; }

    /// <summary>Step scores to record per generated token.</summary>
    public IReadOnlyList<StepFunction> StepScores { get; init; } = [];

    /// <summary>What is attributed (default: probability of the target token).</summary>
    public StepFunction? AttributedFunction { get; init; }

    /// <summary>
    /// Also return the per-step outputs (Inseq's <c>output_step_attributions</c>): each step's tensors with the batch
    /// as first dimension, in <see cref="Data.FeatureAttributionOutput.StepAttributions"/>.
    /// </summary>
    public bool OutputStepAttributions { get; init; }

    /// <summary>Contrastive inputs for the contrastive step functions (null: none).</summary>
    public ContrastOptions? Contrast { get; init; }

    /// <summary>Use UNK instead of EOS in the baseline at EOS positions too.</summary>
    public bool IncludeEosBaseline { get; init; }

    /// <summary>Inputs per batch (null: all at once, as Inseq).</summary>
    public int? BatchSize { get; init; }

    /// <summary>Generation arguments for free generation.</summary>
    public GenerationArguments Generation { get; init; } = new();

    /// <summary>
    /// Inseq 0.7's <c>skip_special_tokens</c>: the tokenizer's special-token strings are removed from the input and
    /// generated texts, which are then tokenized without special tokens (no BOS/EOS in sources, targets or prompts;
    /// an encoder-decoder target keeps its decoder start token). Default false.
    /// </summary>
    public bool SkipSpecialTokens { get; init; }

    /// <summary>
    /// Inseq 0.7's <c>clean_special_chars</c>: every source and target token of the output is shown as the tokenizer
    /// turns it back into text (<c>convert_tokens_to_string([token])</c>: "▁The" becomes "The", "Ġcursor" becomes
    /// " cursor"); a token that becomes empty is shown as " ". Ids are unchanged. Default false.
    /// </summary>
    public bool CleanSpecialChars { get; init; }

    /// <summary>
    /// Inseq's <c>generate_from_target_prefix</c> (encoder-decoders; ignored for decoder-only models, as in Inseq):
    /// <see cref="GeneratedTexts"/> are prefixes that generation continues instead of full targets. As Inseq 0.6
    /// does, the prefix is the decoder start token plus the prefix tokenized as a target with its special tokens
    /// (so an EOS ends it) and right padding to the longest prefix of the batch; the generated text is then decoded
    /// without special tokens and attributed. Default false.
    /// </summary>
    public bool GenerateFromTargetPrefix { get; init; }

    /// <summary>
    /// Execution strategy of the native backend (results are identical within fp32 rounding): the default
    /// <see cref="ExecutionMode.Fast"/>, or <see cref="ExecutionMode.Reference"/> for Inseq's per-step procedure
    /// (see README, "Speed"). The Python backend always runs Inseq's own procedure.
    /// </summary>
    public ExecutionMode Mode { get; init; } = ExecutionMode.Fast;
}

/// <summary>Generation arguments (Inseq's <c>generation_args</c>, passed on to transformers' <c>generate</c>). Unset
/// values fall back to the checkpoint's generation configuration, as in transformers.</summary>
public sealed record GenerationArguments
{
    /// <summary>The <c>generation_args</c> keys these arguments cover.</summary>
    public static IReadOnlyList<string> Keys { get; } =
        ["max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "repetition_penalty", "no_repeat_ngram_size", "num_beams", "length_penalty"];

    /// <summary><c>max_new_tokens</c>.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary><c>do_sample</c>.</summary>
    public bool? DoSample { get; init; }

    /// <summary><c>temperature</c> (sampling).</summary>
    public double? Temperature { get; init; }

    /// <summary><c>top_k</c> (sampling; 0 disables).</summary>
    public int? TopK { get; init; }

    /// <summary><c>top_p</c> (sampling).</summary>
    public double? TopP { get; init; }

    /// <summary><c>repetition_penalty</c>.</summary>
    public double? RepetitionPenalty { get; init; }

    /// <summary><c>no_repeat_ngram_size</c>.</summary>
    public int? NoRepeatNgramSize { get; init; }

    /// <summary><c>num_beams</c>: beam search when more than 1; the best beam is attributed.</summary>
    public int? NumBeams { get; init; }

    /// <summary><c>length_penalty</c> (beam search).</summary>
    public double? LengthPenalty { get; init; }

    /// <summary>Seed for sampling.</summary>
    public long Seed { get; init; }

    /// <summary>The arguments as Inseq records them in <c>info.generation_args</c>.</summary>
    public IReadOnlyDictionary<string, object?> ToInfo()
    {
        var d = new Dictionary<string, object?>();
        void Put(string key, object? value)
        {
            if (value is not null)
            {
                d[key] = value;
            }
        }

        Put("max_new_tokens", MaxNewTokens);
        Put("do_sample", DoSample);
        Put("temperature", Temperature);
        Put("top_k", TopK);
        Put("top_p", TopP);
        Put("repetition_penalty", RepetitionPenalty);
        Put("no_repeat_ngram_size", NoRepeatNgramSize);
        Put("num_beams", NumBeams);
        Put("length_penalty", LengthPenalty);
        return d;
    }

    /// <summary>Reads Inseq's <c>generation_args</c> / <c>generation_kwargs</c> object (JSON), checking every value.</summary>
    /// <exception cref="InvalidRequestException">An unknown key or a value of the wrong type or range; the message
    /// names it.</exception>
    public static GenerationArguments FromJson(JsonObject arguments, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var unknown = arguments.Select(kv => kv.Key).Where(k => !Keys.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidRequestException(
                $"unsupported generation argument(s) {string.Join(", ", unknown)}; supported: {string.Join(", ", Keys)}.");
        }

        T? Get<T>(string key, Func<T, bool> valid, string rule)
            where T : struct
        {
            if (arguments[key] is not JsonNode node)
            {
                return null;
            }

            T value;
            try
            {
                value = node.GetValue<T>();
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new InvalidRequestException($"generation argument {key} must be {rule} (got {node.ToJsonString()}).");
            }

            return valid(value) ? value : throw new InvalidRequestException($"generation argument {key} must be {rule} (got {node.ToJsonString()}).");
        }

        return new GenerationArguments
        {
            MaxNewTokens = Get<int>("max_new_tokens", v => v > 0, "a positive integer"),
            DoSample = Get<bool>("do_sample", _ => true, "true or false"),
            Temperature = Get<double>("temperature", v => v > 0, "a positive number"),
            TopK = Get<int>("top_k", v => v >= 0, "an integer >= 0"),
            TopP = Get<double>("top_p", v => v > 0 && v <= 1, "a number in (0, 1]"),
            RepetitionPenalty = Get<double>("repetition_penalty", v => v > 0, "a positive number"),
            NoRepeatNgramSize = Get<int>("no_repeat_ngram_size", v => v >= 0, "an integer >= 0"),
            NumBeams = Get<int>("num_beams", v => v >= 1, "an integer >= 1"),
            LengthPenalty = Get<double>("length_penalty", double.IsFinite, "a finite number"),
            Seed = seed,
        };
    }
}

/// <summary>How the native backend schedules the work.</summary>
public enum ExecutionMode
{
    /// <summary>
    /// The default: every step's scores from one teacher-forced forward; for gradient methods (saliency, input x
    /// gradient, integrated gradients) one forward per chunk of rows (sequences x integrated-gradient points) with
    /// the graph kept, then one backward per step over its prefix. Other methods, and requests it cannot reproduce
    /// exactly (contrastive or custom attributed functions, convergence deltas), run as <see cref="Reference"/>.
    /// </summary>
    Fast,

    /// <summary>Inseq's procedure: one forward and backward per generated token.</summary>
    Reference,
}

/// <summary>Progress of an attribution call.</summary>
/// <param name="Completed">Steps done.</param>
/// <param name="Total">Steps in all.</param>
public readonly record struct AttributionProgress(int Completed, int Total);
