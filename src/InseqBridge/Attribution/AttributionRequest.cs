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

    /// <summary>Skip special tokens when decoding generated texts.</summary>
    public bool SkipSpecialTokens { get; init; }

    /// <summary>
    /// Execution strategy of the native backend (results are identical within fp32 rounding): the default
    /// <see cref="ExecutionMode.Fast"/>, or <see cref="ExecutionMode.Reference"/> for Inseq's per-step procedure
    /// (see README, "Speed"). The Python backend always runs Inseq's own procedure.
    /// </summary>
    public ExecutionMode Mode { get; init; } = ExecutionMode.Fast;
}

/// <summary>Generation arguments (Inseq's <c>generation_args</c>).</summary>
public sealed record GenerationArguments
{
    /// <summary><c>max_new_tokens</c>.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary><c>do_sample</c>.</summary>
    public bool? DoSample { get; init; }

    /// <summary>Seed for sampling.</summary>
    public long Seed { get; init; }

    /// <summary>The arguments as Inseq records them in <c>info.generation_args</c>.</summary>
    public IReadOnlyDictionary<string, object?> ToInfo()
    {
        var d = new Dictionary<string, object?>();
        if (MaxNewTokens is int n)
        {
            d["max_new_tokens"] = n;
        }

        if (DoSample is bool s)
        {
            d["do_sample"] = s;
        }

        return d;
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
