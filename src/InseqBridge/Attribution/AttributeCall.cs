using System.Globalization;
using InseqBridge.Aggregation;
using InseqBridge.Data;
using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// One call of Inseq's <c>model.attribute(...)</c> in its own argument names, as plain values (ids, texts and
/// <c>key=value</c> arguments): what the CLI's <c>attribute</c> flags and the server's <c>POST /v1/attribute</c> body
/// both carry. <see cref="CreateMethod"/>, <see cref="CreateRequest"/> and <see cref="CreateAggregation"/> build the
/// typed method, request and aggregation, so both front ends turn the same call into the same work.
/// </summary>
public sealed record AttributeCall
{
    private static readonly IReadOnlyDictionary<string, string> NoArguments = new Dictionary<string, string>();

    /// <summary><c>method</c>: the attribution method id (default <c>saliency</c>, as Inseq's CLI).</summary>
    public string Method { get; init; } = "saliency";

    /// <summary><c>input_texts</c>.</summary>
    public IReadOnlyList<string> InputTexts { get; init; } = [];

    /// <summary><c>generated_texts</c>: forced outputs, one per input (null: generate).</summary>
    public IReadOnlyList<string>? GeneratedTexts { get; init; }

    /// <summary><c>step_scores</c>: step score ids.</summary>
    public IReadOnlyList<string> StepScores { get; init; } = [];

    /// <summary><c>attributed_fn</c>: the step function to attribute (null: probability).</summary>
    public string? AttributedFn { get; init; }

    /// <summary><c>attribution_args</c>: method arguments (e.g. <c>n_steps</c>), values as text.</summary>
    public IReadOnlyDictionary<string, string> AttributionArgs { get; init; } = NoArguments;

    /// <summary><c>step_scores_args</c>: routed to each step score by the arguments it takes (as Inseq does).</summary>
    public IReadOnlyDictionary<string, string> StepScoresArgs { get; init; } = NoArguments;

    /// <summary><c>attributed_fn_args</c>.</summary>
    public IReadOnlyDictionary<string, string> AttributedFnArgs { get; init; } = NoArguments;

    /// <summary><c>attr_pos_start</c>.</summary>
    public int? AttrPosStart { get; init; }

    /// <summary><c>attr_pos_end</c>.</summary>
    public int? AttrPosEnd { get; init; }

    /// <summary><c>attribute_target</c>.</summary>
    public bool AttributeTarget { get; init; }

    /// <summary><c>max_new_tokens</c> (Inseq: <c>generation_args</c>).</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>Every generation argument (<c>generation_args</c>: num_beams, do_sample, ...); when set it is used as
    /// given (with its own max_new_tokens and seed) instead of <see cref="MaxNewTokens"/> and <see cref="Seed"/>.</summary>
    public GenerationArguments? Generation { get; init; }

    /// <summary><c>include_eos_baseline</c>.</summary>
    public bool IncludeEosBaseline { get; init; }

    /// <summary><c>batch_size</c>.</summary>
    public int? BatchSize { get; init; }

    /// <summary><c>contrast_targets</c>.</summary>
    public IReadOnlyList<string>? ContrastTargets { get; init; }

    /// <summary><c>contrast_sources</c>.</summary>
    public IReadOnlyList<string>? ContrastSources { get; init; }

    /// <summary><c>contrast_targets_alignments</c>: <c>auto</c> or JSON <c>[[orig, contrast], ...]</c> pairs.</summary>
    public string? ContrastTargetsAlignments { get; init; }

    /// <summary><c>contrast_force_inputs</c> (also accepted inside the step score or attributed function arguments).</summary>
    public bool ContrastForceInputs { get; init; }

    /// <summary><c>skip_special_tokens</c> (Inseq 0.7; see <see cref="AttributionRequest.SkipSpecialTokens"/>).</summary>
    public bool SkipSpecialTokens { get; init; }

    /// <summary><c>clean_special_chars</c> (Inseq 0.7; see <see cref="AttributionRequest.CleanSpecialChars"/>).</summary>
    public bool CleanSpecialChars { get; init; }

    /// <summary><c>generate_from_target_prefix</c> (see <see cref="AttributionRequest.GenerateFromTargetPrefix"/>).</summary>
    public bool GenerateFromTargetPrefix { get; init; }

    /// <summary><c>aggregate</c>: return Inseq's default aggregation instead of the raw attributions.</summary>
    public bool Aggregate { get; init; }

    /// <summary>Aggregator or function ids applied in order instead of the default aggregation (implies <see cref="Aggregate"/>).</summary>
    public IReadOnlyList<string>? Aggregators { get; init; }

    /// <summary>One aggregation function per <see cref="Aggregators"/> id.</summary>
    public IReadOnlyList<string>? AggregateFunctions { get; init; }

    /// <summary><c>seed</c>: sampling and the stochastic methods (lime, reagent) unless their arguments name one.</summary>
    public long Seed { get; init; }

    /// <summary><c>mode</c>: execution strategy of the native backend (results are equal within fp32 rounding).</summary>
    public ExecutionMode Mode { get; init; } = ExecutionMode.Fast;

    /// <summary>The attribution method with its arguments.</summary>
    /// <param name="resolve">Builds the method from id and arguments (default <see cref="AttributionMethod.FromId"/>;
    /// the Python backend passes any Inseq id through).</param>
    /// <exception cref="InvalidRequestException">Unknown method or argument.</exception>
    public AttributionMethod CreateMethod(Func<string, IReadOnlyDictionary<string, string>, AttributionMethod>? resolve = null)
    {
        var arguments = new Dictionary<string, string>(AttributionArgs, StringComparer.Ordinal);
        if (Method is "lime" or "reagent" && !arguments.ContainsKey("seed"))
        {
            // The call's seed also seeds the stochastic methods unless their arguments name one.
            arguments["seed"] = Seed.ToString(CultureInfo.InvariantCulture);
        }

        return resolve is null ? AttributionMethod.FromId(Method, arguments) : resolve(Method, arguments);
    }

    /// <summary>The typed request for this call.</summary>
    /// <param name="method">The method (from <see cref="CreateMethod"/>).</param>
    /// <param name="customStepIds">Ids of user-registered step functions accepted besides the built-ins.</param>
    /// <param name="resolveStep">Builds step functions from id and arguments (default: <see cref="StepFunction.FromId"/>
    /// with the step score arguments routed by signature; the Python backend passes any id and all arguments through).</param>
    /// <exception cref="InvalidRequestException">Unknown step function, or an argument no selected step score takes.</exception>
    public AttributionRequest CreateRequest(
        AttributionMethod method, IReadOnlyCollection<string>? customStepIds = null,
        Func<string, IReadOnlyDictionary<string, string>, StepFunction>? resolveStep = null)
    {
        ArgumentNullException.ThrowIfNull(method);
        customStepIds ??= [];
        var stepArguments = new Dictionary<string, string>(StepScoresArgs, StringComparer.Ordinal);
        var fnArguments = new Dictionary<string, string>(AttributedFnArgs, StringComparer.Ordinal);
        bool forceContrast = ContrastForceInputs | TakeFlag(stepArguments, "contrast_force_inputs") | TakeFlag(fnArguments, "contrast_force_inputs");
        string? unknown = stepArguments.Keys.FirstOrDefault(k => !StepScores.Any(id => StepFunction.ArgumentNames(id).Contains(k)));
        if (resolveStep is null && unknown is not null && StepScores.All(id => !customStepIds.Contains(id)))
        {
            throw new InvalidRequestException($"step_scores_args: no selected step score takes '{unknown}'.");
        }

        var scores = StepScores
            .Select(id => resolveStep is null
                ? StepFunction.FromId(id, customStepIds.Contains(id) ? stepArguments : StepFunction.RouteArguments(id, stepArguments), customStepIds)
                : resolveStep(id, stepArguments))
            .ToList();
        StepFunction? fn = AttributedFn is not { } fnId ? null
            : resolveStep is null ? StepFunction.FromId(fnId, fnArguments, customStepIds) : resolveStep(fnId, fnArguments);
        return new AttributionRequest(InputTexts)
        {
            GeneratedTexts = GeneratedTexts,
            Method = method,
            StepScores = scores,
            AttributedFunction = fn,
            AttributeTarget = AttributeTarget,
            AttrPosStart = AttrPosStart,
            AttrPosEnd = AttrPosEnd,
            IncludeEosBaseline = IncludeEosBaseline,
            BatchSize = BatchSize,
            Generation = Generation ?? new GenerationArguments { MaxNewTokens = MaxNewTokens, Seed = Seed },
            Mode = Mode,
            SkipSpecialTokens = SkipSpecialTokens,
            CleanSpecialChars = CleanSpecialChars,
            GenerateFromTargetPrefix = GenerateFromTargetPrefix,
            Contrast = ContrastTargets is null && ContrastSources is null ? null : new ContrastOptions
            {
                Targets = ContrastTargets,
                Sources = ContrastSources,
                Alignments = ContrastTargetsAlignments is null ? null : ContrastAlignments.Parse(ContrastTargetsAlignments),
                ForceInputs = forceContrast,
            },
        };
    }

    /// <summary>
    /// The aggregation applied before the result is saved or returned: null for none, an empty array for the default
    /// pipeline (<see cref="Aggregate"/>), or the <see cref="Aggregators"/> pipeline.
    /// </summary>
    /// <exception cref="InvalidRequestException">Functions without aggregators, or an unknown id.</exception>
    public IAggregator[]? CreateAggregation()
    {
        if (Aggregators is null)
        {
            return AggregateFunctions is not null
                ? throw new InvalidRequestException("Aggregation functions need aggregator ids (--aggregate-fn needs --aggregator).")
                : Aggregate ? [] : null;
        }

        return AggregatorPipeline.Parse(Aggregators, AggregateFunctions);
    }

    /// <summary>What <c>attribute --save</c> writes for this call: <paramref name="result"/> with
    /// <paramref name="aggregation"/> (from <see cref="CreateAggregation"/>) applied when not null.</summary>
    public static FeatureAttributionOutput Shape(FeatureAttributionOutput result, IAggregator[]? aggregation)
    {
        ArgumentNullException.ThrowIfNull(result);
        return aggregation is not null ? result.Aggregate(aggregation) : result;
    }

    /// <summary>Removes a boolean entry (e.g. <c>contrast_force_inputs=true</c>) and returns its value.</summary>
    private static bool TakeFlag(Dictionary<string, string> arguments, string key)
    {
        if (!arguments.Remove(key, out string? value))
        {
            return false;
        }

        return bool.TryParse(value, out bool flag) ? flag : throw new InvalidRequestException($"{key} must be true or false (got '{value}').");
    }
}
