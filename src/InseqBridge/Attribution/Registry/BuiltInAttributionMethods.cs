using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// The descriptors of the methods this library ships, in the order <c>list-methods</c> prints them. Each one declares
/// its arguments once (defaults are the constants of the method records) and builds its record from them.
/// </summary>
internal static class BuiltInAttributionMethods
{
    // Declared before All: static initializers run in text order.
    private static ArgumentSpec ConvergenceDeltaSpec { get; } =
        ArgumentSpec.Boolean("return_convergence_delta", false, "Add the completeness error as step score 'deltas'.");

    /// <summary>The shipped methods.</summary>
    public static IReadOnlyList<AttributionMethodDescriptor> All { get; } =
    [
        new()
        {
            Id = "saliency",
            Summary = "Absolute gradient of the attributed function with respect to the input embeddings (Captum Saliency, abs=True).",
            Create = _ => new Saliency(),
            FastMode = FastModeRule.AbsoluteGradient,
        },
        new()
        {
            Id = "input_x_gradient",
            Summary = "Gradient of the attributed function times the input embeddings (Captum InputXGradient).",
            Create = _ => new InputXGradient(),
            FastMode = FastModeRule.GradientTimesInput,
        },
        new()
        {
            Id = "integrated_gradients",
            Summary = "Integrated gradients (Sundararajan et al. 2017): gradients averaged along the straight path from the UNK-token baseline to the input, times (input - baseline).",
            Arguments = [.. IntegrationSpecs("Number of interpolation points."), ConvergenceDeltaSpec],
            Create = v => new IntegratedGradients
            {
                Steps = v.Int("n_steps"),
                Method = IntegrationMethodNames.Parse(v.Text("method")),
                InternalBatchSize = v.IntOrNull("internal_batch_size"),
                ReturnConvergenceDelta = v.Bool("return_convergence_delta"),
            },
            FastMode = FastModeRule.IntegratedGradients,
            FastModeCondition = m => m is IntegratedGradients { ReturnConvergenceDelta: false },
        },
        new()
        {
            Id = "attention",
            Summary = "The attention weights of every layer and head, computed once on the full sequence (a final-step method: no step scores).",
            Create = _ => new AttentionWeights(),
            Output = AttributionOutputKind.PerLayerAndHead,
        },
        new()
        {
            Id = "dummy",
            Summary = "No attribution: computes the requested step scores only.",
            Create = _ => new DummyAttribution(),
            Output = AttributionOutputKind.None,
            FastMode = FastModeRule.NoAttribution,
        },
        new()
        {
            Id = "occlusion",
            Summary = "Occlusion: each window of whole token embeddings is replaced by the baseline and the score is the absolute change of the attributed function (one score per token).",
            Arguments =
            [
                ArgumentSpec.Text("sliding_window_shapes", null, "Window size: 'tokens' or 'tokens,hidden_size' (the window always spans the whole embedding; default 1 token)."),
                ArgumentSpec.Integer("strides", Occlusion.DefaultStride, "Step between windows, in tokens.", minimum: 1),
                ArgumentSpec.Integer("perturbations_per_eval", Occlusion.DefaultPerturbationsPerEval, "Windows evaluated per forward pass (speed only).", minimum: 1),
            ],
            Create = Occlusion.Read,
            Output = AttributionOutputKind.PerToken,
        },
        new()
        {
            Id = "lime",
            Summary = "LIME as Inseq 0.6 implements it: random token drops, weighted ridge regression of the attributed function on the perturbed embeddings (stochastic, seeded).",
            Arguments =
            [
                ArgumentSpec.Integer("n_samples", Lime.DefaultSamples, "Perturbations per step.", minimum: 1),
                ArgumentSpec.Integer("perturbations_per_eval", Lime.DefaultPerturbationsPerEval, "Perturbations per forward pass (speed only).", minimum: 1),
                ArgumentSpec.Number("mask_prob", Lime.DefaultMaskProbability, "Probability of dropping a token.", minimum: 0, maximum: 1),
                ArgumentSpec.Choice("mask_token", Lime.DefaultMaskToken, ["unk", "pad"], "Token whose id fills dropped embeddings."),
                SeedSpec("Seed of the random draws (native extension)."),
            ],
            Create = Lime.Read,
        },
        new()
        {
            Id = "value_zeroing",
            Summary = "Value zeroing (Mohebbi et al. 2023): 1 - cosine similarity between clean and value-zeroed attention block outputs, per token and layer (a final-step method).",
            Arguments =
            [
                ArgumentSpec.Choice("similarity_metric", ValueZeroing.DefaultSimilarityMetric, [ValueZeroing.DefaultSimilarityMetric], "Similarity of clean and corrupted outputs ('euclidean' fails in Inseq 0.6 and is not offered)."),
                ArgumentSpec.Text("encoder_zeroed_units_indices", null, "Encoder heads to zero: '2', '0:2', '0,3' or per layer '0=1;1=0:2' (default: all)."),
                ArgumentSpec.Text("decoder_zeroed_units_indices", null, "Decoder heads to zero, same forms (default: all)."),
                ArgumentSpec.Text("cross_zeroed_units_indices", null, "Cross-attention heads to zero, same forms (default: all)."),
                ArgumentSpec.Boolean("output_decoder_self_scores", ValueZeroing.DefaultOutputSelfScores, "Encoder-decoders: also return decoder self-attention scores."),
                ArgumentSpec.Boolean("output_encoder_self_scores", ValueZeroing.DefaultOutputSelfScores, "Encoder-decoders: also return encoder self-attention scores."),
            ],
            Create = ValueZeroing.Read,
            Output = AttributionOutputKind.PerLayer,
        },
        new()
        {
            Id = "reagent",
            Summary = "ReAGent (Zhao et al. 2024) as Inseq 0.6 implements it: random token replacement probes scored by the drop of the target probability (stochastic, seeded).",
            Arguments =
            [
                ArgumentSpec.Integer("keep_top_n", Reagent.DefaultKeepTopN, "Tokens kept when checking the stopping condition (0: use keep_ratio).", minimum: 0),
                ArgumentSpec.Number("keep_ratio", null, "Fraction of tokens kept when keep_top_n is 0, within (0, 1]."),
                ArgumentSpec.Boolean("invert_keep", false, "Replace the top tokens instead of keeping them."),
                ArgumentSpec.Integer("stopping_condition_top_k", Reagent.DefaultStoppingConditionTopK, "A probe stops once the target is among this many top predictions.", minimum: 1),
                ArgumentSpec.Number("replacing_ratio", Reagent.DefaultReplacingRatio, "Fraction of tokens replaced each round.", minimum: 0, maximum: 1),
                ArgumentSpec.Integer("max_probe_steps", Reagent.DefaultMaxProbeSteps, "Rounds at most per probe.", minimum: 1),
                ArgumentSpec.Integer("num_probes", Reagent.DefaultProbes, "Parallel probes.", minimum: 1),
                SeedSpec("Seed of the random draws (native extension)."),
                ArgumentSpec.Text("pos_tag_map", null, "JSON file {\"TAG\": [ids...]} to draw replacements by part of speech (native extension; default: uniform)."),
            ],
            Create = Reagent.Read,
        },
        new()
        {
            Id = "deeplift",
            Summary = "DeepLIFT with the rescale rule (Captum DeepLift, multiply_by_inputs=True) from the UNK-token baseline.",
            Create = _ => new DeepLift(),
        },
        new()
        {
            Id = "gradient_shap",
            Summary = "GradientSHAP (Captum GradientShap): gradients at random points between noisy inputs and baselines, times (input - baseline), averaged (stochastic, seeded).",
            Arguments =
            [
                ArgumentSpec.Integer("n_samples", GradientShap.DefaultSamples, "Random samples per example.", minimum: 1),
                ArgumentSpec.Number("stdevs", 0.0, "Standard deviation of the Gaussian noise added to the inputs.", minimum: 0),
                ArgumentSpec.Integer("seed", null, "Seed of the random draws (native extension; default: the request's generation seed)."),
            ],
            Create = v => new GradientShap
            {
                Samples = v.Int("n_samples"),
                StandardDeviation = double.IsFinite(v.Number("stdevs"))
                    ? v.Number("stdevs")
                    : throw new InvalidRequestException("gradient_shap: argument 'stdevs' must be a finite number >= 0."),
                Seed = v.LongOrNull("seed"),
            },
        },
        new()
        {
            Id = "layer_integrated_gradients",
            Summary = "Layer integrated gradients on the input embedding layer (Captum LayerIntegratedGradients); no attribute_target.",
            Arguments = IntegrationSpecs("Number of interpolation points."),
            Create = v => new LayerIntegratedGradients
            {
                Steps = v.Int("n_steps"),
                Method = IntegrationMethodNames.Parse(v.Text("method")),
                InternalBatchSize = v.IntOrNull("internal_batch_size"),
            },
        },
        new()
        {
            Id = "layer_gradient_x_activation",
            Summary = "Layer gradient x activation on the input embedding layer (Captum LayerGradientXActivation); no attribute_target.",
            Create = _ => new LayerGradientXActivation(),
        },
        new()
        {
            Id = "layer_deeplift",
            Summary = "Layer DeepLIFT on the input embedding layer (Captum LayerDeepLift) from the UNK-token baseline; no attribute_target.",
            Create = _ => new LayerDeepLift(),
        },
        new()
        {
            Id = "sequential_integrated_gradients",
            Summary = "Sequential integrated gradients (Enguehard 2023): each token integrated from its baseline on its own while the others keep their embeddings.",
            Arguments = IntegrationSpecs("Number of interpolation points per token."),
            Create = v => new SequentialIntegratedGradients
            {
                Steps = v.Int("n_steps"),
                Method = IntegrationMethodNames.Parse(v.Text("method")),
                InternalBatchSize = v.IntOrNull("internal_batch_size"),
            },
        },
        new()
        {
            Id = "discretized_integrated_gradients",
            Summary = "Discretized integrated gradients (Sanyal and Ren 2021): monotonic paths through vocabulary embeddings from the baseline to each token.",
            Arguments =
            [
                ArgumentSpec.Integer("n_steps", IntegratedGradients.DefaultSteps, "Points on each path, baseline and input included.", minimum: 2),
                ArgumentSpec.Choice("method", "greedy", ["greedy", "maxcount"], "Anchor selection strategy."),
                ArgumentSpec.Integer("n_neighbors", DiscretizedIntegratedGradients.DefaultNeighbors, "Nearest words anchors are searched among.", minimum: 1),
            ],
            Create = v => new DiscretizedIntegratedGradients
            {
                Steps = v.Int("n_steps"),
                Strategy = v.Text("method") == "maxcount" ? PathStrategy.MaxCount : PathStrategy.Greedy,
                Neighbors = v.Int("n_neighbors"),
            },
        },
    ];

    private static ArgumentSpec[] IntegrationSpecs(string stepsDescription) =>
    [
        ArgumentSpec.Integer("n_steps", IntegratedGradients.DefaultSteps, stepsDescription, minimum: 1),
        ArgumentSpec.Choice("method", IntegrationMethodNames.ToId(IntegratedGradients.DefaultMethod), IntegrationMethodNames.Ids, "Quadrature rule."),
        ArgumentSpec.Integer("internal_batch_size", null, "At most this many interpolated inputs per forward pass (default: all).", minimum: 1),
    ];

    private static ArgumentSpec SeedSpec(string description) => ArgumentSpec.Integer("seed", 0, description, minimum: 0);
}
