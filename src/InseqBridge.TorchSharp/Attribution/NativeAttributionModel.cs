using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Errors;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Attribution.Methods;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Generation;
using InseqBridge.Native.Models;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// A Hugging Face checkpoint loaded by the native TorchSharp backend, attributing with Inseq's semantics.
/// Thread safety: the weights are read-only and every call builds its own tensors, so concurrent calls on one
/// instance are safe.
/// </summary>
public sealed partial class NativeAttributionModel : IAttributionModel
{
    private NativeAttributionModel(
        string name, ModelConfig config, TransformerLanguageModel model, IHfTokenizer tokenizer, GenerationConfig generation, AttributionMethod method)
    {
        Config = config;
        Model = model;
        Tokenizer = tokenizer;
        Generation = generation;
        DefaultMethod = method;
        Info = new ModelInfo(name, config.ModelClass, null, tokenizer.TokenizerClass);

        // Inseq's special-token rules (HuggingfaceModel.__init__).
        if (config.PadTokenId is int configPad)
        {
            PadId = configPad;
        }
        else
        {
            PadId = tokenizer.Special.Pad?.Id ?? tokenizer.Special.Bos?.Id ?? tokenizer.Special.Eos?.Id
                ?? throw new CheckpointException("The tokenizer defines no pad, bos or eos token to pad with.");
        }

        PadToken = tokenizer.IdToToken(PadId) ?? string.Empty;
        BosId = config.DecoderStartTokenId ?? config.BosTokenId ?? tokenizer.Special.Bos?.Id ?? PadId;
        EosId = config.EosTokenIds.Count > 0 ? config.EosTokenIds[0] : PadId;
        UnkId = tokenizer.Special.Unk?.Id ?? PadId;
    }

    /// <summary>The checkpoint's configuration.</summary>
    public ModelConfig Config { get; }

    /// <summary>The network.</summary>
    public TransformerLanguageModel Model { get; }

    /// <summary>The tokenizer.</summary>
    public IHfTokenizer Tokenizer { get; }

    /// <summary>The checkpoint's generation configuration.</summary>
    public GenerationConfig Generation { get; }

    /// <inheritdoc />
    public ModelInfo Info { get; }

    /// <inheritdoc />
    public AttributionMethod DefaultMethod { get; }

    /// <inheritdoc />
    public bool IsEncoderDecoder => Model.IsEncoderDecoder;

    /// <summary>Scheduling knobs of fast mode (tests vary them; results must not change).</summary>
    internal FastModeTuning FastTuning { get; set; } = FastModeTuning.Default;

    internal int PadId { get; }

    internal string PadToken { get; }

    internal int BosId { get; }

    internal int EosId { get; }

    internal int UnkId { get; }

    /// <summary>
    /// Loads a checkpoint folder (config.json, model.safetensors, tokenizer files). The first load of a process
    /// also sets up libtorch's CPU threads when nothing did before (<see cref="NativeRuntime"/>: passive OpenMP
    /// waiting, which takes effect only if this is the process's first TorchSharp call, and a thread count that
    /// matches the CPUs the process may use; <c>INSEQ_BRIDGE_OMP_PASSIVE=0</c> and <c>INSEQ_BRIDGE_THREADS</c>
    /// override) and glibc's allocator thresholds (<see cref="NativeAllocator"/>).
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="method">Default attribution method (default: saliency, as Inseq's CLI).</param>
    /// <param name="modelName">Name recorded as <c>model_name</c> (default: the folder path as given).</param>
    /// <param name="tokenizer">Which tokenizer files to load: <see cref="TokenizerKind.Auto"/> (as AutoTokenizer: the
    /// fast <c>tokenizer.json</c> when present), <see cref="TokenizerKind.Fast"/> or <see cref="TokenizerKind.Slow"/>.</param>
    /// <param name="dtype">Precision of the weights and the compute (default float32, which matches transformers'
    /// default load and Python Inseq; bfloat16/float16 halve the memory, Llama family only).</param>
    public static NativeAttributionModel Load(string directory, AttributionMethod? method = null, string? modelName = null,
        TokenizerKind tokenizer = TokenizerKind.Auto, ModelDType dtype = ModelDType.Float32)
    {
        NativeRuntime.EnsureConfigured();
        NativeAllocator.RetainFreedMemory();
        ModelConfig config = ModelConfig.Load(directory);
        IHfTokenizer hfTokenizer = HfTokenizer.Load(directory, tokenizer);
        GenerationConfig generation = GenerationConfig.Load(directory, config);
        TransformerLanguageModel model = TransformerLanguageModel.Load(directory, config, dtype);
        return new NativeAttributionModel(modelName ?? directory, config, model, hfTokenizer, generation, method ?? new Saliency());
    }

    /// <summary>Wraps an already loaded network with a tokenizer of the caller's choice (tests drive the attribution
    /// pipeline with token ids through a tokenizer that maps "12 34" to [12, 34]). Takes over <paramref name="model"/>.</summary>
    internal static NativeAttributionModel Create(
        string name, TransformerLanguageModel model, IHfTokenizer tokenizer, GenerationConfig generation, AttributionMethod? method = null) =>
        new(name, model.Config, model, tokenizer, generation, method ?? new Saliency());

    /// <inheritdoc />
    public Task<FeatureAttributionOutput> AttributeAsync(
        AttributionRequest request, IProgress<AttributionProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Attribute(request, progress, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public FeatureAttributionOutput Attribute(AttributionRequest request, CancellationToken cancellationToken = default) =>
        Attribute(request, null, cancellationToken);

    private FeatureAttributionOutput Attribute(AttributionRequest request, IProgress<AttributionProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);

        // Small models run on the calling thread alone (NativeRuntimeOptions.SerialBelowHiddenSize).
        using IDisposable? serial = HiddenSize is int hidden && hidden < NativeRuntime.SerialBelowHiddenSize() ? NativeRuntime.SerialScope() : null;
        return AttributeCore(request, progress, cancellationToken);
    }

    /// <summary>The model's hidden size (<c>hidden_size</c>, <c>n_embd</c> or <c>d_model</c> in its config), or null when the config names none.</summary>
    internal int? HiddenSize => HiddenSizeOf(Config);

    private static int? HiddenSizeOf(ModelConfig config)
    {
        foreach (string key in new[] { "hidden_size", "n_embd", "d_model" })
        {
            if (config.Raw.TryGetProperty(key, out System.Text.Json.JsonElement value) && value.ValueKind == System.Text.Json.JsonValueKind.Number && value.TryGetInt32(out int size))
            {
                return size;
            }
        }

        return null;
    }

    private FeatureAttributionOutput AttributeCore(AttributionRequest request, IProgress<AttributionProgress>? progress, CancellationToken cancellationToken)
    {
        AttributionMethod method = request.Method ?? DefaultMethod;
        Validate(request, method);
        var inputs = request.InputTexts.ToList();
        List<string>? generated = request.GeneratedTexts?.ToList();
        bool constrained = generated is not null;
        if (request.SkipSpecialTokens)
        {
            inputs = RemoveSpecialTokens(inputs);
            generated = generated is null ? null : RemoveSpecialTokens(generated);
        }

        if (!IsEncoderDecoder)
        {
            string bos = Tokenizer.IdToToken(BosId) ?? string.Empty;
            for (int i = 0; i < inputs.Count; i++)
            {
                if (inputs[i].Length == 0)
                {
                    inputs[i] = bos;
                    if (generated is not null && !generated[i].StartsWith(bos, StringComparison.Ordinal))
                    {
                        generated[i] = bos + " " + generated[i];
                    }
                }
            }
        }

        if (generated is not null && request.GenerateFromTargetPrefix && IsEncoderDecoder)
        {
            generated = GenerateTexts(inputs, request, cancellationToken, prefixes: generated);
        }

        generated ??= GenerateTexts(inputs, request, cancellationToken);
        if (!IsEncoderDecoder)
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                if (!generated[i].StartsWith(inputs[i], StringComparison.Ordinal))
                {
                    throw new InvalidRequestException(
                        $"Generated text {i} does not start with its input text: decoder-only forced generations must repeat the prompt (\"{inputs[i]}\").");
                }
            }
        }

        int batchSize = request.BatchSize ?? inputs.Count;
        bool singleItems = (!IsEncoderDecoder && ((constrained && inputs.Count > 1) || (inputs.Count > 1 && (request.AttrPosStart is not null || request.AttrPosEnd is not null))))
            || (IsEncoderDecoder && method.IsFinalStepMethod && inputs.Count > 1)
            || method is Lime or Reagent;
        if (singleItems)
        {
            batchSize = 1;
        }

        // Stochastic methods draw from one seeded stream across all batches, as Python's global generator after set_seed.
        using TorchSharp.torch.Generator? random = method switch
        {
            Lime lime => new TorchSharp.torch.Generator((ulong)lime.Seed),
            Reagent reagent => new TorchSharp.torch.Generator((ulong)reagent.Seed),
            _ => null,
        };
        var outputs = new List<FeatureAttributionOutput>();
        var contrastPairs = new IReadOnlyList<AlignmentPair>[inputs.Count];
        using var state = new AttributionCallState(method is GradientShap { Seed: long seed } ? seed : request.Generation.Seed);
        int done = 0;
        int total = inputs.Count;
        for (int first = 0; first < inputs.Count; first += batchSize)
        {
            var idx = Enumerable.Range(first, Math.Min(batchSize, inputs.Count - first)).ToList();
            var (output, pairs) = AttributeBatch(
                method, request, idx, idx.Select(i => inputs[i]).ToList(), idx.Select(i => generated[i]).ToList(), state, random, cancellationToken);
            for (int r = 0; r < idx.Count && pairs is not null; r++)
            {
                contrastPairs[idx[r]] = pairs[r];
            }

            done += idx.Count;
            progress?.Report(new AttributionProgress(done, total));
            outputs.Add(output);
        }

        FeatureAttributionOutput merged = outputs.Count == 1 ? outputs[0] : AttributionOutputMerger.Merge(outputs);
        return CleanSpecialChars(Describe(merged, request, method, inputs, generated, constrained, contrastPairs), request);
    }

    /// <summary>
    /// Attributes every input of <paramref name="request"/> separately: result <c>i</c> equals
    /// <c>Attribute(request with { InputTexts = [input i], GeneratedTexts = [output i] })</c>, but inputs whose
    /// token lengths are equal (and, once generated, whose outputs' lengths are equal) share their passes, at most
    /// <see cref="AttributionRequest.BatchSize"/> per batch (default: all). Shared passes need no padding, so every
    /// sequence sees the same positions and masks as alone. Requests whose results depend on the batch (stochastic
    /// methods and sampling, contrastive inputs, step attributions, encoder-decoder final-step methods) run one
    /// input at a time.
    /// </summary>
    /// <param name="request">The request; its inputs are attributed one by one.</param>
    /// <param name="cancellationToken">Cancels between and inside batches.</param>
    /// <returns>One output per input, in order.</returns>
    public IReadOnlyList<FeatureAttributionOutput> AttributeEach(AttributionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        AttributionMethod method = request.Method ?? DefaultMethod;
        Validate(request, method);
        int count = request.InputTexts.Count;
        AttributionRequest Single(int i, string? generatedText) => request with
        {
            InputTexts = [request.InputTexts[i]],
            GeneratedTexts = generatedText is null ? null : [generatedText],
            BatchSize = null,
        };

        bool shareable = method is Saliency or InputXGradient or DummyAttribution or IntegratedGradients or DeepLift
            && request.Contrast is null && !request.OutputStepAttributions && request.Generation.DoSample != true
            && !request.StepScores.Append(request.AttributedFunction).Any(f => f is McDropoutProbabilityAverage or CustomStepFunction)
            && request.InputTexts.All(t => t.Length > 0)
            && !request.GenerateFromTargetPrefix && !request.SkipSpecialTokens && !request.CleanSpecialChars;
        if (count == 1 || !shareable)
        {
            return Enumerable.Range(0, count)
                .Select(i => Attribute(Single(i, request.GeneratedTexts?[i]), cancellationToken))
                .ToList();
        }

        int batchSize = request.BatchSize ?? count;
        var inputs = request.InputTexts.ToList();
        var sourceIds = inputs.Select(t => Tokenizer.Encode(t)).ToList();
        bool constrained = request.GeneratedTexts is not null;
        List<string> generated;
        if (constrained)
        {
            generated = [.. request.GeneratedTexts!];
        }
        else
        {
            // Greedy generation of prompts of one length needs no padding, so each row generates as it would alone.
            var texts = new string[count];
            foreach (var group in Enumerable.Range(0, count).GroupBy(i => sourceIds[i].Count))
            {
                foreach (int[] chunk in group.Chunk(batchSize))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var chunkTexts = GenerateTexts([.. chunk.Select(i => inputs[i])], request with { BatchSize = null }, cancellationToken);
                    for (int j = 0; j < chunk.Length; j++)
                    {
                        texts[chunk[j]] = chunkTexts[j];
                    }
                }
            }

            generated = [.. texts];
        }

        var targetLengths = generated.Select(t => Tokenizer.Encode(t, asTarget: IsEncoderDecoder).Count).ToList();
        var results = new FeatureAttributionOutput[count];
        foreach (var group in Enumerable.Range(0, count).GroupBy(i => (sourceIds[i].Count, targetLengths[i])))
        {
            foreach (int[] chunk in group.Chunk(batchSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var idx = chunk.ToList();
                var chunkInputs = idx.Select(i => inputs[i]).ToList();
                var chunkGenerated = idx.Select(i => generated[i]).ToList();
                if (!IsEncoderDecoder && chunkGenerated.Where((g, j) => !g.StartsWith(chunkInputs[j], StringComparison.Ordinal)).Any())
                {
                    // Let the single-input path raise its error for the offending row.
                    foreach (int i in idx)
                    {
                        results[i] = Attribute(Single(i, generated[i]), cancellationToken);
                    }

                    continue;
                }

                using var state = new AttributionCallState(request.Generation.Seed);
                var (output, _) = AttributeBatch(method, request, idx, chunkInputs, chunkGenerated, state, null, cancellationToken);
                for (int j = 0; j < idx.Count; j++)
                {
                    var part = new FeatureAttributionOutput
                    {
                        SequenceAttributions = [output.SequenceAttributions[j]],
                        Info = (JsonObject)output.Info.DeepClone(),
                        StepAttributions = null,
                    };
                    results[idx[j]] = Describe(
                        part, Single(idx[j], constrained ? generated[idx[j]] : null), method, [chunkInputs[j]], [chunkGenerated[j]], constrained, new IReadOnlyList<AlignmentPair>[1]);
                }
            }
        }

        return results;
    }

    /// <summary>Completes the info of an attribution call as Inseq records it.</summary>
    private FeatureAttributionOutput Describe(
        FeatureAttributionOutput merged, AttributionRequest request, AttributionMethod method, List<string> inputs, List<string> generated, bool constrained,
        IReadOnlyList<AlignmentPair>?[] contrastPairs)
    {
        JsonObject info = merged.Info;
        info["input_texts"] = new JsonArray(inputs.Select(t => (JsonNode?)t).ToArray());
        info["generated_texts"] = new JsonArray(generated.Select(t => (JsonNode?)t).ToArray());
        bool fromPrefix = constrained && request.GenerateFromTargetPrefix && IsEncoderDecoder;
        info["generation_args"] = ToJson(constrained && !fromPrefix ? new Dictionary<string, object?>() : request.Generation.ToInfo());
        if (fromPrefix)
        {
            // Inseq passes the prefix to generate() as decoder_input_ids and records that tensor (saved as an empty object).
            info["generation_args"]!["decoder_input_ids"] = new JsonObject { ["__instance_type__"] = new JsonArray("torch", "Tensor"), ["attributes"] = new JsonObject() };
        }

        info["constrained_decoding"] = constrained;
        info["generate_from_target_prefix"] = fromPrefix;
        info["include_eos_baseline"] = request.IncludeEosBaseline;
        StepFunction attributed = request.AttributedFunction ?? StepFunction.Default;
        info["attributed_fn"] = attributed.FunctionName;
        info["attribution_args"] = ToJson(method.Arguments);
        if (method is Occlusion occlusion)
        {
            // Inseq writes the window it fills in (tokens, embedding size) into the recorded arguments.
            info["attribution_args"]!["sliding_window_shapes"] = new JsonArray(occlusion.WindowTokens, (int)Model.EmbeddingMatrix.shape[1]);
        }

        var contrastArgs = ContrastInfo(request.Contrast, contrastPairs);
        info["attributed_fn_args"] = ToJson(WithContrast(attributed.Arguments, attributed, contrastArgs));
        var stepArgs = request.StepScores.SelectMany(s => s.Arguments).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.First().Value);
        info["step_scores_args"] = ToJson(request.StepScores.Any(s => s is ContrastiveStepFunction) ? WithContrast(stepArgs, null, contrastArgs) : stepArgs);
        return merged with { Info = Sorted(info) };
    }

    private void Validate(AttributionRequest request, AttributionMethod method)
    {
        if (request.InputTexts.Count == 0)
        {
            throw new InvalidInputException("At least one input text is needed.");
        }

        if (IsEncoderDecoder && request.InputTexts.Any(string.IsNullOrEmpty))
        {
            throw new InvalidInputException("Input texts of an encoder-decoder model must not be empty.");
        }

        if (request.GeneratedTexts is not null && request.GeneratedTexts.Count != request.InputTexts.Count)
        {
            throw new InvalidRequestException(
                $"{request.GeneratedTexts.Count} generated texts for {request.InputTexts.Count} input texts: give one per input.");
        }

        if (method.IsFinalStepMethod && request.StepScores.Count > 0)
        {
            throw new InvalidRequestException(
                $"Step scores are not supported by the final-step method '{method.Id}'. Compute them separately with method 'dummy'.");
        }

        bool contrastive = request.StepScores.Append(request.AttributedFunction).Any(f => f is ContrastiveStepFunction);
        if (request.Contrast is ContrastOptions contrast)
        {
            contrast.Validate(request.InputTexts.Count, IsEncoderDecoder);
            if (!contrastive)
            {
                throw new InvalidRequestException(
                    "Contrastive inputs were given but no contrastive step function uses them: pick one (e.g. contrast_prob_diff) as step score or attributed function.");
            }
        }
        else if (contrastive)
        {
            throw new InvalidRequestException(
                "Contrastive step functions need contrastive inputs: give contrast targets (or contrast sources for encoder-decoder models).");
        }

        if (method is Lime && IsEncoderDecoder && request.AttributeTarget)
        {
            throw new InvalidRequestException("lime does not support attribute_target with encoder-decoder models (as in Inseq 0.6).");
        }

        if (request.BatchSize is <= 0)
        {
            throw new InvalidRequestException($"batch_size must be positive (got {request.BatchSize}).");
        }
    }

    /// <summary>Tokenizes and checks that every id has a row in the embedding matrix: a tokenizer larger than the
    /// model's vocabulary would otherwise fail deep in libtorch ("index out of range in self").</summary>
    private IReadOnlyList<int> EncodeChecked(string text, bool asTarget = false, bool addSpecialTokens = true)
    {
        IReadOnlyList<int> ids = Tokenizer.Encode(text, addSpecialTokens, asTarget: asTarget);
        TokenIdGuard.Check(ids, Model, "the tokenizer");
        return ids;
    }

    private List<string> GenerateTexts(List<string> inputs, AttributionRequest request, CancellationToken cancellationToken, List<string>? prefixes = null)
    {
        var encoded = inputs.Select(t => EncodeChecked(t, addSpecialTokens: !request.SkipSpecialTokens)).ToList();
        var options = new GenerationOptions
        {
            MaxNewTokens = request.Generation.MaxNewTokens,
            DoSample = request.Generation.DoSample,
            Temperature = request.Generation.Temperature,
            TopK = request.Generation.TopK,
            TopP = request.Generation.TopP,
            RepetitionPenalty = request.Generation.RepetitionPenalty,
            NoRepeatNgramSize = request.Generation.NoRepeatNgramSize,
            NumBeams = request.Generation.NumBeams,
            LengthPenalty = request.Generation.LengthPenalty,
            Seed = request.Generation.Seed,
        };
        var texts = new List<string>();
        int batch = request.BatchSize ?? inputs.Count;
        for (int first = 0; first < inputs.Count; first += batch)
        {
            var chunk = encoded.Skip(first).Take(batch).ToList();
            IReadOnlyList<IReadOnlyList<int>> prompts = chunk;
            if (!IsEncoderDecoder && PadAttendedInGeneration())
            {
                // Inseq calls generate() without an attention mask; when pad == eos transformers attends to the
                // left padding, so the padded rows are the prompts.
                int width = chunk.Max(c => c.Count);
                prompts = chunk.Select(c => (IReadOnlyList<int>)[.. Enumerable.Repeat(PadId, width - c.Count), .. c]).ToList();
            }

            IReadOnlyList<IReadOnlyList<int>>? decoderPrefixes = prefixes is null ? null : DecoderPrefixes(prefixes.Skip(first).Take(batch).ToList());
            var generated = Generator.Generate(Model, Generation, prompts, decoderPrefixes, options, cancellationToken);
            for (int i = 0; i < chunk.Count; i++)
            {
                IEnumerable<int> ids = decoderPrefixes is not null
                    ? [.. decoderPrefixes[i], .. generated[i]]
                    : IsEncoderDecoder
                    ? [Generation.DecoderStartTokenId ?? BosId, .. generated[i]]
                    : [.. prompts[i], .. generated[i]];
                texts.Add(Tokenizer.Decode(ids, skipSpecialTokens: true, cleanUpTokenizationSpaces: false));
            }
        }

        return texts;
    }

    private bool PadAttendedInGeneration()
    {
        int? pad = Generation.PadTokenId ?? (Generation.EosTokenIds.Count > 0 ? Generation.EosTokenIds[0] : null);
        return pad is null || Generation.EosTokenIds.Contains(pad.Value) || pad != PadId;
    }

    private (FeatureAttributionOutput Output, IReadOnlyList<IReadOnlyList<AlignmentPair>>? Pairs) AttributeBatch(
        AttributionMethod method, AttributionRequest request, List<int> indices, List<string> inputs, List<string> generated, AttributionCallState state,
        TorchSharp.torch.Generator? random, CancellationToken cancellationToken)
    {
        bool special = !request.SkipSpecialTokens;
        var sourceIds = inputs.Select(t => EncodeChecked(t, addSpecialTokens: special)).ToList();
        EncodedTexts targets;
        EncodedTexts? sources = null;
        int start;
        if (IsEncoderDecoder)
        {
            sources = Encode(sourceIds, padLeft: false, request.IncludeEosBaseline, prepend: null);
            targets = Encode(generated.Select(t => EncodeChecked(t, asTarget: true, addSpecialTokens: special)).ToList(), padLeft: false, request.IncludeEosBaseline, prepend: BosId);
            start = request.AttrPosStart ?? 1;
        }
        else
        {
            targets = Encode(generated.Select(t => EncodeChecked(t, addSpecialTokens: special)).ToList(), padLeft: true, request.IncludeEosBaseline, prepend: null);
            int promptWidth = sourceIds.Max(s => s.Count);
            start = request.AttrPosStart is int s && s >= promptWidth ? s : promptWidth;
        }

        if (Config.MaxPositions is int max && targets.Width > max)
        {
            throw new InvalidInputException($"The target has {targets.Width} tokens but {Config.ModelClass} accepts at most {max} positions. Shorten the text or max_new_tokens.");
        }

        var run = new AttributionRun(this, method, request, sources, targets, EncodeContrast(request.Contrast, indices, request.IncludeEosBaseline), state, random);
        return (run.Run(start, request.AttrPosEnd, null, cancellationToken), run.ContrastPairs);
    }

    /// <summary>Tokenizes the contrastive texts of the batch rows as Inseq tokenizes targets and sources.</summary>
    private ContrastInputs? EncodeContrast(ContrastOptions? contrast, List<int> indices, bool includeEosBaseline)
    {
        if (contrast is null)
        {
            return null;
        }

        long[][]? targetIds = contrast.Targets is null ? null : indices
            .Select(i => Tokenizer.Encode(contrast.Targets[i], asTarget: IsEncoderDecoder))
            .Select(ids => (IsEncoderDecoder ? ids.Prepend(BosId) : ids).Select(id => (long)id).ToArray())
            .ToArray();
        return new ContrastInputs
        {
            TargetIds = targetIds,
            TargetTokens = targetIds?.Select(ids => ids.Select(id => Tokenizer.IdToToken((int)id) ?? string.Empty).ToArray()).ToArray(),
            Sources = contrast.Sources is null ? null
                : Encode(indices.Select(i => Tokenizer.Encode(contrast.Sources[i])).ToList(), padLeft: false, includeEosBaseline, prepend: null),
            Alignments = contrast.Alignments,
            InputIndex = [.. indices],
            ForceInputs = contrast.ForceInputs,
        };
    }

    /// <summary>The contrastive arguments as Inseq records them (alignments after adjustment).</summary>
    private static Dictionary<string, object?> ContrastInfo(ContrastOptions? contrast, IReadOnlyList<AlignmentPair>?[] pairs)
    {
        var args = new Dictionary<string, object?>();
        if (contrast is null)
        {
            return args;
        }

        static JsonArray Texts(IEnumerable<string> texts) => new(texts.Select(t => (JsonNode?)t).ToArray());
        if (contrast.Targets is not null)
        {
            args["contrast_targets"] = Texts(contrast.Targets);
            args["contrast_targets_alignments"] = new JsonArray(pairs.Select(p => (JsonNode?)new JsonArray(
                (p ?? []).Select(a => (JsonNode?)new JsonArray(a.Original, a.Contrast)).ToArray())).ToArray());
        }

        if (contrast.Sources is not null)
        {
            args["contrast_sources"] = Texts(contrast.Sources);
        }

        if (contrast.ForceInputs)
        {
            args["contrast_force_inputs"] = true;
        }

        return args;
    }

    private static IReadOnlyDictionary<string, object?> WithContrast(
        IReadOnlyDictionary<string, object?> args, StepFunction? function, Dictionary<string, object?> contrastArgs)
    {
        if (function is not null and not ContrastiveStepFunction)
        {
            return args;
        }

        var merged = new Dictionary<string, object?>(args);
        foreach (var (key, value) in contrastArgs)
        {
            merged[key] = value;
        }

        return merged;
    }

    private EncodedTexts Encode(IReadOnlyList<IReadOnlyList<int>> ids, bool padLeft, bool includeEosBaseline, int? prepend) =>
        EncodedTexts.Pad(ids, padLeft, PadId, UnkId, EosId, includeEosBaseline, prepend, id => Tokenizer.IdToToken(id) ?? string.Empty);

    internal JsonObject BaseInfo() => new()
    {
        ["model_name"] = Info.ModelName,
        ["model_class"] = Info.ModelClass,
        ["tokenizer_name"] = Info.TokenizerName,
        ["tokenizer_class"] = Info.TokenizerClass,
    };

    private static JsonObject ToJson(IReadOnlyDictionary<string, object?> values)
    {
        var o = new JsonObject();
        foreach (var (k, v) in values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            o[k] = v switch
            {
                null => null,
                bool b => b,
                int i => i,
                long l => l,
                double d => d,
                float f => f,
                JsonNode node => node.DeepClone(),
                _ => v.ToString(),
            };
        }

        return o;
    }

    private static JsonObject Sorted(JsonObject info)
    {
        var sorted = new JsonObject();
        foreach (var kv in info.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList())
        {
            sorted[kv.Key] = kv.Value?.DeepClone();
        }

        return sorted;
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
