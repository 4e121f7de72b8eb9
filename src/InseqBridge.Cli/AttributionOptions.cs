using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using InseqBridge.Tokenizers;
using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Attribution;

namespace InseqBridge.Cli;

/// <summary>
/// The attribution flags shared by <c>attribute</c> and <c>attribute-dataset</c> (model, method, step scores,
/// positions, generation and method arguments). One instance per command: <see cref="AddTo"/> registers the
/// options, <see cref="CreateMethod"/> and <see cref="CreateRequest"/> read them back.
/// </summary>
public sealed class AttributionOptions
{
    /// <summary><c>--model DIR</c>.</summary>
    public Option<string> Model { get; } = CommonOptions.Model();

    /// <summary><c>--tokenizer fast|slow</c>.</summary>
    public Option<TokenizerKind?> Tokenizer { get; } = CommonOptions.Tokenizer();

    /// <summary><c>--method ID</c>.</summary>
    public Option<string> Method { get; } = new("--method") { Description = "Attribution method id (see list-methods).", DefaultValueFactory = _ => "saliency", HelpName = "ID" };

    /// <summary><c>--step-scores ID,...</c>.</summary>
    public Option<string?> StepScores { get; } = new("--step-scores") { Description = "Comma-separated step score ids (see list-step-functions).", HelpName = "ID[,ID...]" };

    /// <summary><c>--attributed-fn ID</c>.</summary>
    public Option<string?> AttributedFn { get; } = new("--attributed-fn") { Description = "Step function to attribute (default: probability).", HelpName = "ID" };

    /// <summary><c>--attribute-target</c>.</summary>
    public Option<bool> AttributeTarget { get; } = new("--attribute-target") { Description = "Encoder-decoders: also attribute to the target prefix." };

    /// <summary><c>--attr-pos-start N</c>.</summary>
    public Option<int?> PosStart { get; } = new("--attr-pos-start") { Description = "First attributed target position.", HelpName = "N" };

    /// <summary><c>--attr-pos-end N</c>.</summary>
    public Option<int?> PosEnd { get; } = new("--attr-pos-end") { Description = "One past the last attributed position.", HelpName = "N" };

    /// <summary><c>--generation-kwargs JSON</c>: Inseq's <c>generation_args</c> (num_beams, do_sample, ...).</summary>
    public Option<string?> GenerationKwargs { get; } = new("--generation-kwargs")
    {
        Description = "Generation arguments as a JSON object, as Inseq takes them: max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty, no_repeat_ngram_size, num_beams, length_penalty.",
        HelpName = "JSON",
    };

    /// <summary><c>--max-new-tokens N</c>.</summary>
    public Option<int?> MaxNewTokens { get; } = new("--max-new-tokens") { Description = "Generation length when no forced output text is given.", HelpName = "N" };

    /// <summary><c>--n-steps N</c>.</summary>
    public Option<int?> NSteps { get; } = new("--n-steps") { Description = $"Integrated gradients: interpolation steps (default {IntegratedGradients.DefaultSteps}).", HelpName = "N" };

    /// <summary><c>--internal-batch-size N</c>.</summary>
    public Option<int?> InternalBatchSize { get; } = new("--internal-batch-size") { Description = "Integrated gradients: rows per forward pass.", HelpName = "N" };

    /// <summary><c>--include-eos-baseline</c>.</summary>
    public Option<bool> IncludeEos { get; } = new("--include-eos-baseline") { Description = "Use UNK at EOS positions of the baseline too." };

    /// <summary><c>--batch-size N</c>.</summary>
    public Option<int?> BatchSize { get; } = new("--batch-size") { Description = "Inputs per batch (default: all).", HelpName = "N" };

    /// <summary><c>--method-args K=V,...</c>.</summary>
    public Option<string?> MethodArgs { get; } = new("--method-args") { Description = "Other method arguments, e.g. method=riemann_trapezoid.", HelpName = "K=V[,K=V...]" };

    /// <summary><c>--step-scores-args K=V,...</c>.</summary>
    public Option<string?> StepArgs { get; } = new("--step-scores-args") { Description = "Step score arguments, e.g. logprob=true.", HelpName = "K=V[,K=V...]" };

    /// <summary><c>--attributed-fn-args K=V,...</c>.</summary>
    public Option<string?> FnArgs { get; } = new("--attributed-fn-args") { Description = "Attributed function arguments.", HelpName = "K=V[,K=V...]" };

    /// <summary><c>--seed N</c>.</summary>
    public Option<long> Seed { get; } = new("--seed") { Description = "Seed for sampling and stochastic methods.", DefaultValueFactory = _ => 0, HelpName = "N" };

    /// <summary><c>--mode fast|reference</c>.</summary>
    public Option<ExecutionMode?> Mode { get; } = ModeOption();

    /// <summary><c>--aggregate</c>.</summary>
    public Option<bool> Aggregate { get; } = new("--aggregate") { Description = "Save the default aggregation instead of the raw attributions." };

    /// <summary><c>--aggregator ID,...</c>: aggregate with these aggregators / functions instead of the default.</summary>
    public Option<string?> Aggregator { get; } = new("--aggregator")
    {
        Description = "Aggregate with these aggregator or function ids in order (scores, subwords, spans, split, slices, pair, mean, max, min, sum, prod, absmax, vnorm; arguments in --aggregator-args); implies --aggregate.",
        HelpName = "ID[,ID...]",
    };

    /// <summary><c>--aggregate-fn ID,...</c>: one aggregation function per <c>--aggregator</c> id.</summary>
    public Option<string?> AggregateFn { get; } = new("--aggregate-fn") { Description = "Aggregation function per --aggregator id.", HelpName = "ID[,ID...]" };

    /// <summary><c>--overwrite</c>.</summary>
    public Option<bool> Overwrite { get; } = CommonOptions.Overwrite();

    /// <summary><c>--dtype bfloat16|float16|float32</c>: precision of the native model's weights and compute.</summary>
    public Option<ModelDType?> DType { get; } = CommonOptions.DType();

    /// <summary>The Inseq 0.7 attribute options and aggregation arguments (see <see cref="AttributeOptionFlags"/>).</summary>
    public AttributeOptionFlags Extra { get; } = new();

    /// <summary>The options, in help order.</summary>
    public IEnumerable<Option> All =>
    [
        Model, Method, StepScores, AttributedFn, AttributeTarget, PosStart, PosEnd, MaxNewTokens, GenerationKwargs, NSteps,
        InternalBatchSize, IncludeEos, BatchSize, MethodArgs, StepArgs, FnArgs, Seed, Mode, Aggregate, Aggregator, AggregateFn, Overwrite,
        Tokenizer, DType, .. Extra.All,
    ];

    /// <summary>Most integration steps accepted (<c>--n-steps</c>): far above any published use (Inseq's default is
    /// 50), low enough that a typo cannot start a run of days.</summary>
    public const int MaxSteps = 100_000;

    /// <summary>Adds every option to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        RequirePositive(MaxNewTokens, "the number of tokens to generate (transformers refuses 0)");
        RequirePositive(NSteps, "the number of integration steps", MaxSteps);
        RequirePositive(InternalBatchSize, "the rows per forward pass");
        RequirePositive(BatchSize, "the inputs per batch");
        RequireNonNegative(PosStart);
        foreach (Option option in All)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The option's value, or null when absent or not a number (the parser reports that itself).</summary>
    private static int? ValueOrNull(System.CommandLine.Parsing.OptionResult result)
    {
        try
        {
            return result.GetValueOrDefault<int?>();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static void RequirePositive(Option<int?> option, string what, int max = int.MaxValue) =>
        option.Validators.Add(result =>
        {
            if (ValueOrNull(result) is int value && (value < 1 || value > max))
            {
                result.AddError(max == int.MaxValue
                    ? $"{option.Name} must be at least 1 ({what}); got {value}."
                    : $"{option.Name} must be between 1 and {max} ({what}); got {value}.");
            }
        });

    private static void RequireNonNegative(Option<int?> option) =>
        option.Validators.Add(result =>
        {
            if (ValueOrNull(result) is int value and < 0)
            {
                result.AddError($"{option.Name} must be 0 or more; got {value}.");
            }
        });

    /// <summary>
    /// The call these flags describe, in Inseq's argument names (<see cref="AttributeCall"/>, shared with the server):
    /// <c>--n-steps</c> and <c>--internal-batch-size</c> join <c>--method-args</c>.
    /// </summary>
    /// <param name="parseResult">The parsed command line.</param>
    /// <param name="inputs">Input texts.</param>
    /// <param name="generated">Forced outputs, or null to generate.</param>
    public AttributeCall CreateCall(ParseResult parseResult, IReadOnlyList<string> inputs, IReadOnlyList<string>? generated)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var arguments = ParseKeyValues(parseResult.GetValue(MethodArgs), "--method-args");
        if (parseResult.GetValue(NSteps) is int n)
        {
            if (arguments.ContainsKey("n_steps"))
            {
                throw new CliUsageException("--n-steps and --method-args n_steps=... both set the steps; give one of them.");
            }

            arguments["n_steps"] = n.ToString(CultureInfo.InvariantCulture);
        }
        else if (arguments.TryGetValue("n_steps", out string? steps) && int.TryParse(steps, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) && parsed > MaxSteps)
        {
            throw new CliUsageException($"--method-args n_steps={parsed}: at most {MaxSteps} integration steps are accepted.");
        }

        if (parseResult.GetValue(InternalBatchSize) is int ibs)
        {
            if (arguments.ContainsKey("internal_batch_size"))
            {
                throw new CliUsageException("--internal-batch-size and --method-args internal_batch_size=... both set it; give one of them.");
            }

            arguments["internal_batch_size"] = ibs.ToString(CultureInfo.InvariantCulture);
        }

        static string[]? Ids(string? text) => text?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new AttributeCall
        {
            Method = parseResult.GetValue(Method)!,
            InputTexts = inputs,
            GeneratedTexts = generated,
            StepScores = Ids(parseResult.GetValue(StepScores)) ?? [],
            AttributedFn = parseResult.GetValue(AttributedFn),
            AttributionArgs = arguments,
            StepScoresArgs = ParseKeyValues(parseResult.GetValue(StepArgs), "--step-scores-args"),
            AttributedFnArgs = ParseKeyValues(parseResult.GetValue(FnArgs), "--attributed-fn-args"),
            AttributeTarget = parseResult.GetValue(AttributeTarget),
            AttrPosStart = parseResult.GetValue(PosStart),
            AttrPosEnd = parseResult.GetValue(PosEnd),
            MaxNewTokens = parseResult.GetValue(MaxNewTokens),
            Generation = CreateGeneration(parseResult),
            IncludeEosBaseline = parseResult.GetValue(IncludeEos),
            BatchSize = parseResult.GetValue(BatchSize),
            Aggregate = parseResult.GetValue(Aggregate),
            Aggregators = Ids(parseResult.GetValue(Aggregator)),
            AggregateFunctions = Ids(parseResult.GetValue(AggregateFn)),
            Seed = parseResult.GetValue(Seed),
            Mode = parseResult.GetValue(Mode) ?? ExecutionMode.Fast,
        };
    }

    /// <summary>The attribution method with its arguments (<c>--method</c>, <c>--method-args</c>, <c>--n-steps</c>,
    /// <c>--internal-batch-size</c>).</summary>
    /// <param name="parseResult">The parsed command line.</param>
    /// <param name="resolve">Builds the method from its id and arguments (default: the native
    /// <see cref="AttributionMethod.FromId"/>; the Python backend passes any Inseq id through).</param>
    public AttributionMethod CreateMethod(ParseResult parseResult, Func<string, IReadOnlyDictionary<string, string>, AttributionMethod>? resolve = null) =>
        CreateCall(parseResult, [], null).CreateMethod(resolve);

    /// <summary>The request for <paramref name="inputs"/> (and forced outputs) with every other flag applied.</summary>
    /// <param name="parseResult">The parsed command line.</param>
    /// <param name="method">The attribution method.</param>
    /// <param name="inputs">Input texts.</param>
    /// <param name="generated">Forced outputs, or null to generate.</param>
    /// <param name="resolveStep">Builds step functions from id and arguments (default: the native
    /// <see cref="StepFunction.FromId"/> with arguments routed by signature; the Python backend passes any Inseq id and
    /// all arguments through).</param>
    public AttributionRequest CreateRequest(
        ParseResult parseResult, AttributionMethod method, IReadOnlyList<string> inputs, IReadOnlyList<string>? generated,
        Func<string, IReadOnlyDictionary<string, string>, StepFunction>? resolveStep = null)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        AttributeCall call = CreateCall(parseResult, inputs, generated);
        var stepArguments = new Dictionary<string, string>(call.StepScoresArgs);
        var fnArguments = new Dictionary<string, string>(call.AttributedFnArgs);
        ForceContrastInputs = TakeFlag(stepArguments, "contrast_force_inputs") | TakeFlag(fnArguments, "contrast_force_inputs");
        string? unknown = stepArguments.Keys.FirstOrDefault(k => !call.StepScores.Any(id => StepFunction.ArgumentNames(id).Contains(k)));
        if (resolveStep is null && unknown is not null && call.StepScores.All(id => !StepFunctionEvaluator.CustomIds.Contains(id)))
        {
            throw new CliUsageException($"--step-scores-args: no selected step score takes '{unknown}'.");
        }

        return Extra.Apply(parseResult, call.CreateRequest(method, [.. StepFunctionEvaluator.CustomIds], resolveStep));
    }

    /// <summary>The generation arguments of <c>--generation-kwargs</c> and <c>--max-new-tokens</c>.</summary>
    public GenerationArguments CreateGeneration(ParseResult parseResult)
    {
        int? maxNewTokens = parseResult.GetValue(MaxNewTokens);
        long seed = parseResult.GetValue(Seed);
        if (parseResult.GetValue(GenerationKwargs) is not { } text)
        {
            return new GenerationArguments { MaxNewTokens = maxNewTokens, Seed = seed };
        }

        JsonObject arguments;
        try
        {
            arguments = JsonNode.Parse(text, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 16 }) as JsonObject
                ?? throw new CliUsageException("--generation-kwargs must be a JSON object, e.g. '{\"num_beams\": 4}'.");
        }
        catch (System.Text.Json.JsonException)
        {
            throw new CliUsageException("--generation-kwargs is not valid JSON; give an object such as '{\"num_beams\": 4}'.");
        }

        GenerationArguments generation = GenerationArguments.FromJson(arguments, seed);
        if (maxNewTokens is int n)
        {
            if (generation.MaxNewTokens is int other && other != n)
            {
                throw new CliUsageException($"--max-new-tokens {n} and --generation-kwargs max_new_tokens {other} disagree; give one of them.");
            }

            generation = generation with { MaxNewTokens = n };
        }

        return generation;
    }

    /// <summary>
    /// The aggregation to apply before saving: null for none, an empty array for the default pipeline
    /// (<c>--aggregate</c>), or the <c>--aggregator</c> pipeline.
    /// </summary>
    public IAggregator[]? CreateAggregation(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        AttributeCall call = CreateCall(parseResult, [], null);
        if (call.Aggregators is null && call.AggregateFunctions is not null)
        {
            throw new CliUsageException("--aggregate-fn needs --aggregator.");
        }

        return Extra.CreateAggregation(parseResult, call);
    }

    private static Option<ExecutionMode?> ModeOption() => EnumOption.Create<ExecutionMode>(
        "--mode",
        "Execution of the native backend: fast (default: steps and integrated-gradient points batched, one backward per step over a shared forward) or reference (Inseq's per-step passes); results are equal within fp32 rounding.",
        [new("fast", ExecutionMode.Fast), new("reference", ExecutionMode.Reference)]);

    /// <summary>Parses <c>K=V,K=V</c>.</summary>
    public static Dictionary<string, string> ParseKeyValues(string? text, string option)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in (text ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliUsageException($"{option}: '{pair}' is not KEY=VALUE.");
            }

            string key = pair[..eq].Trim();
            if (!result.TryAdd(key, pair[(eq + 1)..].Trim()))
            {
                throw new CliUsageException($"{option}: '{key}' is given twice; give each key once.");
            }
        }

        return result;
    }

    /// <summary>
    /// Set by <see cref="CreateRequest"/> when the step score or attributed function arguments carry
    /// <c>contrast_force_inputs=true</c> (Inseq accepts it there too).
    /// </summary>
    public bool ForceContrastInputs { get; private set; }

    /// <summary>Removes a boolean K=V entry (e.g. <c>contrast_force_inputs=true</c>) and returns its value.</summary>
    private static bool TakeFlag(Dictionary<string, string> arguments, string key)
    {
        if (!arguments.Remove(key, out string? value))
        {
            return false;
        }

        return bool.TryParse(value, out bool flag) ? flag : throw new CliUsageException($"{key} must be true or false (got '{value}').");
    }
}
