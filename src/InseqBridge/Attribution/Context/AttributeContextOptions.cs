namespace InseqBridge.Attribution.Context;

/// <summary>Method, metric and selection settings of a context attribution (defaults: Inseq 0.6's).</summary>
public sealed record AttributeContextOptions
{
    /// <summary>Contrastive step function scoring context sensitivity (<c>context_sensitivity_metric</c>).</summary>
    public string ContextSensitivityMetric { get; init; } = "kl_divergence";

    /// <summary>How a generated output context is split from the current output.</summary>
    public OutputContextStrategy HandleOutputContextStrategy { get; init; } = OutputContextStrategy.Manual;

    /// <summary>One forced contextless next token per context-sensitive token (contrastive attributed functions only).</summary>
    public IReadOnlyList<string> ContextlessOutputNextTokens { get; init; } = [];

    /// <summary>Ask for each contextless next token (needs <see cref="AskContextlessNextToken"/>).</summary>
    public bool PromptUserForContextlessOutputNextTokens { get; init; }

    /// <summary>Special tokens kept in texts and token lists (e.g. a <c>&lt;brk&gt;</c> separator).</summary>
    public IReadOnlyList<string> SpecialTokensToKeep { get; init; } = [];

    /// <summary>Separator between input and output of decoder-only models.</summary>
    public string DecoderInputOutputSeparator { get; init; } = " ";

    /// <summary>Standard deviations above the mean a CTI score needs (0: the mean; null: every token).</summary>
    public double? ContextSensitivityStdThreshold { get; init; } = 1.0;

    /// <summary>Keep at most this many context-sensitive tokens (null: all).</summary>
    public int? ContextSensitivityTopK { get; init; }

    /// <summary>Standard deviations above the mean a CCI score needs to be shown as a cue.</summary>
    public double? AttributionStdThreshold { get; init; } = 1.0;

    /// <summary>Show at most this many cues (null: all).</summary>
    public int? AttributionTopK { get; init; }

    /// <summary>Attributed step function id (null: probability).</summary>
    public string? AttributedFn { get; init; }

    /// <summary>Attribution method id.</summary>
    public string AttributionMethod { get; init; } = "saliency";

    /// <summary>Arguments of the method and attributed function (Inseq's <c>attribution_kwargs</c>), as text values.</summary>
    public IReadOnlyDictionary<string, string> AttributionKwargs { get; init; } = new Dictionary<string, string>();

    /// <summary>Generation arguments (Inseq's <c>generation_kwargs</c>).</summary>
    public GenerationArguments Generation { get; init; } = new();

    /// <summary>Normalize the aggregated CCI attributions (<c>normalize_attributions</c>).</summary>
    public bool NormalizeAttributions { get; init; }

    /// <summary>Record <c>info</c> in the output (<c>add_output_info</c>).</summary>
    public bool AddOutputInfo { get; init; } = true;

    /// <summary>
    /// Asked for the contextless next token of a context-sensitive token (argument: the contextual prefix and the
    /// token); returns a word, or null to use the model's own prediction.
    /// </summary>
    public Func<string, string, string?>? AskContextlessNextToken { get; init; }
}
