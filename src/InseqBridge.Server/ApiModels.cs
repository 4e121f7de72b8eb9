using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace InseqBridge.Server;

/// <summary>
/// Body of <c>POST /v1/attribute</c>: the keyword arguments of Inseq's <c>model.attribute(...)</c>, by Inseq's names,
/// plus <c>model</c> (a configured NAME), <c>method</c>, <c>aggregate</c>, <c>seed</c> and <c>mode</c>.
/// </summary>
public sealed class AttributeRequestBody
{
    /// <summary>A configured model NAME (never a path).</summary>
    [JsonPropertyName("model")]
    public string? Model { get; set; }

    /// <summary>Attribution method id (default <c>saliency</c>).</summary>
    [JsonPropertyName("method")]
    public string? Method { get; set; }

    /// <summary>Input texts (a string is read as a list of one).</summary>
    [JsonPropertyName("input_texts")]
    public List<string>? InputTexts { get; set; }

    /// <summary>Forced outputs, one per input (decoder-only: starting with the input).</summary>
    [JsonPropertyName("generated_texts")]
    public List<string>? GeneratedTexts { get; set; }

    /// <summary>Step score ids.</summary>
    [JsonPropertyName("step_scores")]
    public List<string>? StepScores { get; set; }

    /// <summary>Step function to attribute (default probability).</summary>
    [JsonPropertyName("attributed_fn")]
    public string? AttributedFn { get; set; }

    /// <summary>Method arguments, e.g. <c>{"n_steps": 50}</c>.</summary>
    [JsonPropertyName("attribution_args")]
    public Dictionary<string, JsonElement>? AttributionArgs { get; set; }

    /// <summary>Step score arguments, e.g. <c>{"logprob": true}</c>.</summary>
    [JsonPropertyName("step_scores_args")]
    public Dictionary<string, JsonElement>? StepScoresArgs { get; set; }

    /// <summary>Attributed function arguments.</summary>
    [JsonPropertyName("attributed_fn_args")]
    public Dictionary<string, JsonElement>? AttributedFnArgs { get; set; }

    /// <summary>First attributed target position.</summary>
    [JsonPropertyName("attr_pos_start")]
    public int? AttrPosStart { get; set; }

    /// <summary>One past the last attributed position.</summary>
    [JsonPropertyName("attr_pos_end")]
    public int? AttrPosEnd { get; set; }

    /// <summary>Encoder-decoders: also attribute to the target prefix.</summary>
    [JsonPropertyName("attribute_target")]
    public bool? AttributeTarget { get; set; }

    /// <summary>Generation length when no forced output is given.</summary>
    [JsonPropertyName("max_new_tokens")]
    public int? MaxNewTokens { get; set; }

    /// <summary>Use UNK at EOS positions of the baseline too.</summary>
    [JsonPropertyName("include_eos_baseline")]
    public bool? IncludeEosBaseline { get; set; }

    /// <summary>Inputs per batch.</summary>
    [JsonPropertyName("batch_size")]
    public int? BatchSize { get; set; }

    /// <summary>Contrastive targets, one per input.</summary>
    [JsonPropertyName("contrast_targets")]
    public List<string>? ContrastTargets { get; set; }

    /// <summary>Contrastive sources, one per input (encoder-decoder).</summary>
    [JsonPropertyName("contrast_sources")]
    public List<string>? ContrastSources { get; set; }

    /// <summary><c>"auto"</c> or <c>[[orig, contrast], ...]</c> pairs per sequence.</summary>
    [JsonPropertyName("contrast_targets_alignments")]
    public JsonElement? ContrastTargetsAlignments { get; set; }

    /// <summary>Attributed contrastive functions run on the contrastive inputs.</summary>
    [JsonPropertyName("contrast_force_inputs")]
    public bool? ContrastForceInputs { get; set; }

    /// <summary>Inseq 0.7's skip_special_tokens: tokens and texts without the tokenizer's special tokens.</summary>
    [JsonPropertyName("skip_special_tokens")]
    public bool? SkipSpecialTokens { get; set; }

    /// <summary>Inseq 0.7's clean_special_chars: token strings without the tokenizer's marker characters (Ġ, ▁).</summary>
    [JsonPropertyName("clean_special_chars")]
    public bool? CleanSpecialChars { get; set; }

    /// <summary>Encoder-decoders: generate after the given generated_texts used as a target prefix.</summary>
    [JsonPropertyName("generate_from_target_prefix")]
    public bool? GenerateFromTargetPrefix { get; set; }

    /// <summary>Return Inseq's default aggregation instead of the raw attributions.</summary>
    [JsonPropertyName("aggregate")]
    public bool? Aggregate { get; set; }

    /// <summary>Seed for sampling and the stochastic methods.</summary>
    [JsonPropertyName("seed")]
    public long? Seed { get; set; }

    /// <summary><c>fast</c> (default) or <c>reference</c>.</summary>
    [JsonPropertyName("mode")]
    public string? Mode { get; set; }
}

/// <summary>One configured model (<c>GET /v1/models</c>).</summary>
/// <param name="Name">The NAME requests use.</param>
/// <param name="ModelClass">Hugging Face class (e.g. <c>GPT2LMHeadModel</c>).</param>
/// <param name="TokenizerClass">Tokenizer class.</param>
/// <param name="IsEncoderDecoder">True for encoder-decoder models.</param>
public sealed record ModelEntry(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("model_class")] string ModelClass,
    [property: JsonPropertyName("tokenizer_class")] string TokenizerClass,
    [property: JsonPropertyName("is_encoder_decoder")] bool IsEncoderDecoder);

/// <summary><c>GET /v1/models</c>.</summary>
public sealed record ModelList([property: JsonPropertyName("models")] IReadOnlyList<ModelEntry> Models);

/// <summary>An argument and its default.</summary>
public sealed record ArgumentEntry(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("default"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] JsonNode? Default);

/// <summary>An attribution method (<c>GET /v1/methods</c>) or step function (<c>GET /v1/step-functions</c>).</summary>
/// <param name="Id">Inseq's id.</param>
/// <param name="Arguments">Arguments (in <c>attribution_args</c>, <c>step_scores_args</c> or <c>attributed_fn_args</c>) and defaults.</param>
/// <param name="AcceptsStepScores">Methods: false for final-step methods (attention, value zeroing), which take no step scores.</param>
public sealed record CatalogEntry(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("arguments")] IReadOnlyList<ArgumentEntry> Arguments,
    [property: JsonPropertyName("accepts_step_scores")] bool? AcceptsStepScores = null);

/// <summary><c>GET /v1/methods</c>.</summary>
public sealed record MethodList([property: JsonPropertyName("methods")] IReadOnlyList<CatalogEntry> Methods);

/// <summary><c>GET /v1/step-functions</c>.</summary>
public sealed record StepFunctionList([property: JsonPropertyName("step_functions")] IReadOnlyList<CatalogEntry> StepFunctions);

/// <summary><c>/healthz</c> and <c>/readyz</c>.</summary>
public sealed record HealthStatus(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("detail")] string? Detail = null);

/// <summary>A <c>progress</c> event of the event stream: steps done of all.</summary>
public sealed record ProgressEvent(
    [property: JsonPropertyName("completed")] int Completed,
    [property: JsonPropertyName("total")] int Total);

/// <summary>An RFC 9457 problem (<c>application/problem+json</c>), with the limit a request exceeded where one did.</summary>
public sealed record Problem
{
    /// <summary>Problem type URI.</summary>
    [JsonPropertyName("type")]
    public string Type { get; init; } = "about:blank";

    /// <summary>Short summary.</summary>
    [JsonPropertyName("title")]
    public required string Title { get; init; }

    /// <summary>HTTP status code.</summary>
    [JsonPropertyName("status")]
    public required int Status { get; init; }

    /// <summary>What is wrong and how to fix it (for engine errors: the message the CLI prints).</summary>
    [JsonPropertyName("detail")]
    public string? Detail { get; init; }

    /// <summary>The limit exceeded (e.g. <c>max_new_tokens</c>).</summary>
    [JsonPropertyName("limit")]
    public string? Limit { get; init; }

    /// <summary>The limit's value.</summary>
    [JsonPropertyName("max")]
    public long? Max { get; init; }

    /// <summary>The value the request asked for.</summary>
    [JsonPropertyName("actual")]
    public long? Actual { get; init; }

    /// <summary>The request's correlation id (also in the server log).</summary>
    [JsonPropertyName("correlation_id")]
    public string? CorrelationId { get; init; }
}

/// <summary>Source-generated JSON metadata for every type the server reads or writes.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(AttributeRequestBody))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(MethodList))]
[JsonSerializable(typeof(StepFunctionList))]
[JsonSerializable(typeof(HealthStatus))]
[JsonSerializable(typeof(ProgressEvent))]
[JsonSerializable(typeof(Problem))]
public sealed partial class ServerJsonContext : JsonSerializerContext;

/// <summary>The context the server uses: <see cref="ServerJsonContext"/> with readable escaping (apostrophes and
/// non-ASCII letters as is), safe because answers are served as JSON, never embedded in HTML.</summary>
public static class ServerJson
{
    /// <summary>The context.</summary>
    public static ServerJsonContext Context { get; } = new(new JsonSerializerOptions(ServerJsonContext.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
