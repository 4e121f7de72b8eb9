namespace InseqBridge.Attribution;

/// <summary>Descriptors of Inseq's 14 built-in step functions, in Inseq's order; each declares its arguments once.</summary>
internal static class BuiltInStepFunctions
{
    // Declared before All: static initializers run in text order.
    private static ArgumentSpec LogProbSpec { get; } = ArgumentSpec.Boolean("logprob", false, "Use log-probabilities.");

    /// <summary>The built-in step functions.</summary>
    public static IReadOnlyList<StepFunctionDescriptor> All { get; } =
    [
        new() { Id = "logit", Summary = "The target token's logit.", Create = _ => new Logit() },
        new()
        {
            Id = "probability",
            Summary = "Softmax probability of the target token (Inseq's default attributed function).",
            Arguments = [LogProbSpec],
            Create = v => new Probability { LogProb = v.Bool("logprob") },
        },
        new() { Id = "entropy", Summary = "Entropy (nats) of the next-token distribution.", Create = _ => new Entropy() },
        new() { Id = "crossentropy", Summary = "Cross-entropy (nats) of the target token.", Create = _ => new CrossEntropy() },
        new() { Id = "perplexity", Summary = "2 to the power of the natural-log cross-entropy (Inseq's definition).", Create = _ => new Perplexity() },
        new()
        {
            Id = "contrast_logits",
            Summary = "Logit of the contrastive target token given the contrastive inputs.",
            Create = _ => new ContrastLogits(),
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "contrast_prob",
            Summary = "Probability of the contrastive target token given the contrastive inputs.",
            Arguments = [LogProbSpec],
            Create = v => new ContrastProbability { LogProb = v.Bool("logprob") },
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "contrast_logits_diff",
            Summary = "Logit of the target minus the contrastive logit (Yin and Neubig 2022).",
            Create = _ => new ContrastLogitsDifference(),
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "contrast_prob_diff",
            Summary = "Probability of the target minus the contrastive probability.",
            Arguments = [LogProbSpec],
            Create = v => new ContrastProbabilityDifference { LogProb = v.Bool("logprob") },
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "pcxmi",
            Summary = "Pointwise conditional cross-mutual information, -log2(p(original) / p(contrastive)).",
            Create = _ => new Pcxmi(),
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "kl_divergence",
            Summary = "KL divergence of the contrastive next-token distribution from the original one, after optional top-p then top-k filtering.",
            Arguments =
            [
                ArgumentSpec.Integer("top_k", KlDivergence.DefaultTopK, "Keep only the k most likely tokens (0: no filter).", minimum: 0),
                ArgumentSpec.Number("top_p", KlDivergence.DefaultTopP, "Keep only the nucleus of this cumulative probability (1: no filter).", minimum: 0, maximum: 1),
                ArgumentSpec.Integer("min_tokens_to_keep", KlDivergence.DefaultMinTokensToKeep, "Tokens top-p filtering keeps at least.", minimum: 1),
            ],
            Create = v => new KlDivergence { TopK = v.Int("top_k"), TopP = v.Number("top_p"), MinTokensToKeep = v.Int("min_tokens_to_keep") },
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "in_context_pvi",
            Summary = "In-context pointwise V-usable information, -log p(original) + log p(contrastive).",
            Create = _ => new InContextPvi(),
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "mc_dropout_prob_avg",
            Summary = "Z-score of the target's probability against Monte Carlo dropout predictions.",
            Arguments =
            [
                LogProbSpec,
                ArgumentSpec.Integer("n_mcd_steps", McDropoutProbabilityAverage.DefaultSamples, "Noisy (dropout) forward passes.", minimum: 1),
            ],
            Create = v => new McDropoutProbabilityAverage { Samples = v.Int("n_mcd_steps"), LogProb = v.Bool("logprob") },
            NeedsExtraForwards = true,
        },
        new()
        {
            Id = "top_p_size",
            Summary = "Number of tokens in the nucleus of cumulative probability top_p.",
            Arguments = [ArgumentSpec.Number("top_p", null, "Cumulative probability of the nucleus (required).", minimum: 0, maximum: 1) with { Required = true }],
            Create = v => new TopPSize { TopP = v.Number("top_p") },
        },
    ];
}
