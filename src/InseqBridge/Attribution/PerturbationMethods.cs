using System.Globalization;
using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// Occlusion (Captum <c>Occlusion</c> as Inseq configures it): each window of whole token embeddings is replaced by
/// the baseline (UNK embeddings) and the score is the absolute change of the attributed function, averaged over the
/// windows that cover a token. A coarse method: one score per token and step.
/// </summary>
public sealed record Occlusion : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "occlusion";

    /// <summary>Default <see cref="WindowTokens"/>.</summary>
    public const int DefaultWindowTokens = 1;

    /// <summary>Default <see cref="Stride"/>.</summary>
    public const int DefaultStride = 1;

    /// <summary>Default <see cref="PerturbationsPerEval"/>.</summary>
    public const int DefaultPerturbationsPerEval = 1;

    /// <summary>Tokens per window (first entry of Captum's <c>sliding_window_shapes</c>; default 1). The window
    /// always spans the whole embedding, as Inseq requires.</summary>
    public int WindowTokens { get; init; } = DefaultWindowTokens;

    /// <summary>Captum's <c>strides</c> along the tokens (default 1).</summary>
    public int Stride { get; init; } = DefaultStride;

    /// <summary>Captum's <c>perturbations_per_eval</c>: windows evaluated per forward pass (speed only; default 1).</summary>
    public int PerturbationsPerEval { get; init; } = DefaultPerturbationsPerEval;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Stride != DefaultStride)
            {
                args["strides"] = Stride;
            }

            if (PerturbationsPerEval != DefaultPerturbationsPerEval)
            {
                args["perturbations_per_eval"] = PerturbationsPerEval;
            }

            return args;
        }
    }

    internal static Occlusion Read(ArgumentValues r)
    {
        string? window = r.TextOrNull("sliding_window_shapes");
        int tokens = DefaultWindowTokens;
        int? hidden = null;
        if (window is not null)
        {
            int[] parts = PerturbationArgs.ParseInts("occlusion", "sliding_window_shapes", window);
            if (parts.Length is < 1 or > 2)
            {
                throw new InvalidRequestException(
                    $"occlusion: sliding_window_shapes must be 'tokens' or 'tokens,hidden_size' (got '{window}').");
            }

            tokens = parts[0];
            hidden = parts.Length == 2 ? parts[1] : null;
        }

        var method = new Occlusion
        {
            WindowTokens = tokens,
            Stride = r.Int("strides"),
            PerturbationsPerEval = r.Int("perturbations_per_eval"),
            ExpectedHiddenSize = hidden,
        };
        PerturbationArgs.Positive("occlusion", "sliding_window_shapes", method.WindowTokens);
        return method;
    }

    /// <summary>The hidden size named in <c>sliding_window_shapes</c>, checked against the model (Inseq asserts that
    /// the window covers the whole embedding).</summary>
    public int? ExpectedHiddenSize { get; init; }
}

/// <summary>
/// LIME as Inseq 0.6 implements it (<c>inseq/attr/feat/ops/lime.py</c>): <see cref="Samples"/> perturbations of the
/// attributed embeddings, each keeping every token with probability 1 - <see cref="MaskProbability"/> (one Bernoulli
/// draw per token, shared by the hidden units) and setting the dropped ones to the <em>numeric id</em> of the mask
/// token in every hidden unit (Inseq's behaviour); similarity = number of unchanged embedding values; a weighted ridge
/// regression (scikit-learn <c>Ridge(alpha=1)</c>) of the attributed function on the flattened perturbed embeddings
/// gives one coefficient per embedding value. Stochastic: the draws come from a torch CPU generator seeded with
/// <see cref="Seed"/>, the stream Python Inseq consumes after <c>transformers.set_seed(seed)</c>. Batched inputs are
/// attributed one at a time, as in Inseq.
/// </summary>
public sealed record Lime : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "lime";

    /// <summary>Default <see cref="Samples"/>.</summary>
    public const int DefaultSamples = 50;

    /// <summary>Default <see cref="PerturbationsPerEval"/>.</summary>
    public const int DefaultPerturbationsPerEval = 1;

    /// <summary>Default <see cref="MaskProbability"/>.</summary>
    public const double DefaultMaskProbability = 0.3;

    /// <summary>Default <see cref="MaskToken"/>.</summary>
    public const string DefaultMaskToken = "unk";

    /// <summary><c>n_samples</c>: perturbations per step (default <see cref="DefaultSamples"/>).</summary>
    public int Samples { get; init; } = DefaultSamples;

    /// <summary><c>perturbations_per_eval</c>: perturbations per forward pass (speed only; default <see cref="DefaultPerturbationsPerEval"/>).</summary>
    public int PerturbationsPerEval { get; init; } = DefaultPerturbationsPerEval;

    /// <summary><c>mask_prob</c>: probability of dropping a token (default <see cref="DefaultMaskProbability"/>).</summary>
    public double MaskProbability { get; init; } = DefaultMaskProbability;

    /// <summary><c>mask_token</c>: <c>unk</c> (default) or <c>pad</c>, whose id fills dropped embeddings.</summary>
    public string MaskToken { get; init; } = DefaultMaskToken;

    /// <summary><c>seed</c> (native extension): seed of the torch generator (default 0, as the reference runs).</summary>
    public long Seed { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Samples != DefaultSamples)
            {
                args["n_samples"] = Samples;
            }

            if (PerturbationsPerEval != DefaultPerturbationsPerEval)
            {
                args["perturbations_per_eval"] = PerturbationsPerEval;
            }

            if (MaskProbability != DefaultMaskProbability)
            {
                args["mask_prob"] = MaskProbability;
            }

            if (MaskToken != DefaultMaskToken)
            {
                args["mask_token"] = MaskToken;
            }

            if (Seed != 0)
            {
                args["seed"] = Seed;
            }

            return args;
        }
    }

    internal static Lime Read(ArgumentValues r) => new()
    {
        Samples = r.Int("n_samples"),
        PerturbationsPerEval = r.Int("perturbations_per_eval"),
        MaskProbability = r.Number("mask_prob"),
        MaskToken = r.Text("mask_token"),
        Seed = r.LongOrNull("seed") ?? 0,
    };
}

/// <summary>
/// Attention heads whose value vectors value zeroing sets to zero: all (null lists), the same heads in every layer, or
/// a per-layer choice (layers not listed are not zeroed). Parsed from Inseq's forms: <c>2</c> (one head),
/// <c>0:2</c> (the span [0, 2) like a Python tuple), <c>0,3</c> (a list), <c>0=1;1=0:2</c> (per layer).
/// </summary>
public sealed record HeadSelection
{
    /// <summary>Heads zeroed in every layer (null: all heads).</summary>
    public IReadOnlyList<int>? Heads { get; init; }

    /// <summary>Heads per layer index (null: the same in every layer).</summary>
    public IReadOnlyDictionary<int, HeadSelection>? PerLayer { get; init; }

    /// <summary>The span form <c>start:end</c>, kept to resolve negative ends against the head count.</summary>
    internal (int Start, int End)? Span { get; init; }

    /// <summary>Parses the K=V text form.</summary>
    /// <exception cref="InvalidRequestException">Malformed text.</exception>
    public static HeadSelection Parse(string owner, string text)
    {
        text = text.Trim();
        if (text.Contains('='))
        {
            var layers = new Dictionary<int, HeadSelection>();
            foreach (string part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string[] kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
                if (kv.Length != 2 || !int.TryParse(kv[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int layer))
                {
                    throw new InvalidRequestException($"{owner}: per-layer heads must look like '0=1;1=0:2' (got '{text}').");
                }

                layers[layer] = Parse(owner, kv[1]);
            }

            return new HeadSelection { PerLayer = layers };
        }

        if (text.Contains(':'))
        {
            int[] span = PerturbationArgs.ParseInts(owner, "heads", text.Replace(':', ','));
            if (span.Length != 2)
            {
                throw new InvalidRequestException($"{owner}: a head span must be 'start:end' (got '{text}').");
            }

            return new HeadSelection { Span = (span[0], span[1]) };
        }

        int[] heads = PerturbationArgs.ParseInts(owner, "heads", text);
        if (heads.Length == 0)
        {
            throw new InvalidRequestException($"{owner}: an empty list of heads is not allowed.");
        }

        return new HeadSelection { Heads = heads };
    }

    /// <summary>The zeroed heads of one layer (null: none), validated as Inseq's <c>validate_indices</c> does.</summary>
    /// <exception cref="InvalidRequestException">Out-of-range or duplicate heads, empty span.</exception>
    public IReadOnlyList<int>? ForLayer(int layer, int heads)
    {
        if (PerLayer is not null)
        {
            return PerLayer.TryGetValue(layer, out var selection) ? selection.ForLayer(layer, heads) : null;
        }

        if (Span is var (start, end))
        {
            start = start < 0 ? heads + start : start;
            end = end < 0 ? heads + end : end;
            if (start >= end || start < 0 || end > heads)
            {
                throw new InvalidRequestException($"value_zeroing: head span {Span.Value.Start}:{Span.Value.End} is empty or out of range for {heads} heads.");
            }

            return Enumerable.Range(start, end - start).ToList();
        }

        if (Heads is null)
        {
            return Enumerable.Range(0, heads).ToList();
        }

        var resolved = Heads.Select(h => h < 0 ? heads + h : h).ToList();
        if (resolved.Any(h => h < 0 || h >= heads))
        {
            throw new InvalidRequestException($"value_zeroing: head index out of range: the model has {heads} heads.");
        }

        if (resolved.Distinct().Count() != resolved.Count)
        {
            throw new InvalidRequestException("value_zeroing: duplicate head indices are not allowed.");
        }

        return resolved;
    }
}

/// <summary>
/// Value zeroing (Mohebbi et al. 2023) as Inseq 0.6 implements it: for every token and layer, the value vectors of
/// that token are zeroed in the attention block (inputs of each block kept clean), and the score is 1 - cosine
/// similarity between the clean and the corrupted block outputs; scores below 1e-5 become 0 and each position's
/// scores are normalised to sum to 1. A final-step method with one score per layer
/// (<c>[tokens, steps, layers]</c>); encoder-decoders also return <c>encoder_self_scores</c> and
/// <c>decoder_self_scores</c> sequence scores.
/// </summary>
public sealed record ValueZeroing : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "value_zeroing";

    /// <inheritdoc />
    public override bool IsFinalStepMethod => true;

    /// <summary>Default <see cref="SimilarityMetric"/> (the only one offered).</summary>
    public const string DefaultSimilarityMetric = "cosine";

    /// <summary>Default of <see cref="OutputDecoderSelfScores"/> and <see cref="OutputEncoderSelfScores"/>.</summary>
    public const bool DefaultOutputSelfScores = true;

    /// <summary><c>similarity_metric</c>: only <c>cosine</c> (Inseq 0.6's <c>euclidean</c> fails with a shape error).</summary>
    public string SimilarityMetric { get; init; } = DefaultSimilarityMetric;

    /// <summary><c>encoder_zeroed_units_indices</c> (null: all heads of every layer).</summary>
    public HeadSelection? EncoderZeroedUnits { get; init; }

    /// <summary><c>decoder_zeroed_units_indices</c> (null: all heads of every layer).</summary>
    public HeadSelection? DecoderZeroedUnits { get; init; }

    /// <summary><c>cross_zeroed_units_indices</c> (null: all heads of every layer).</summary>
    public HeadSelection? CrossZeroedUnits { get; init; }

    /// <summary><c>output_decoder_self_scores</c> (encoder-decoders; default true).</summary>
    public bool OutputDecoderSelfScores { get; init; } = DefaultOutputSelfScores;

    /// <summary><c>output_encoder_self_scores</c> (encoder-decoders; default true).</summary>
    public bool OutputEncoderSelfScores { get; init; } = DefaultOutputSelfScores;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (OutputDecoderSelfScores != DefaultOutputSelfScores)
            {
                args["output_decoder_self_scores"] = OutputDecoderSelfScores;
            }

            if (OutputEncoderSelfScores != DefaultOutputSelfScores)
            {
                args["output_encoder_self_scores"] = OutputEncoderSelfScores;
            }

            return args;
        }
    }

    internal static ValueZeroing Read(ArgumentValues r)
    {
        if (r.Given.TryGetValue("similarity_metric", out string? given) && given == "euclidean")
        {
            throw new InvalidRequestException(
                "value_zeroing: similarity_metric 'euclidean' is not supported (in Inseq 0.6.0 it compares every pair of positions and fails with a shape error); use 'cosine'.");
        }

        HeadSelection? Heads(string key) => r.TextOrNull(key) is string s ? HeadSelection.Parse($"value_zeroing {key}", s) : null;
        return new ValueZeroing
        {
            SimilarityMetric = r.Text("similarity_metric"),
            EncoderZeroedUnits = Heads("encoder_zeroed_units_indices"),
            DecoderZeroedUnits = Heads("decoder_zeroed_units_indices"),
            CrossZeroedUnits = Heads("cross_zeroed_units_indices"),
            OutputDecoderSelfScores = r.Bool("output_decoder_self_scores"),
            OutputEncoderSelfScores = r.Bool("output_encoder_self_scores"),
        };
    }
}

/// <summary>
/// ReAGent (Zhao et al. 2024) as Inseq 0.6 implements it (<c>inseq/attr/feat/ops/reagent.py</c>): <see cref="Probes"/>
/// parallel probes start from random logit scores; each round replaces a random ~<see cref="ReplacingRatio"/> of the
/// tokens with sampled tokens and adds logit((±Δp + 1) / 2) to every token's score (+ for replaced, − for kept, Δp the
/// drop of the target probability); a probe stops once the target is in the top <see cref="StoppingConditionTopK"/>
/// predictions when only its <see cref="KeepTopN"/> most important tokens are kept. The result is the softmax of the
/// scores averaged over stopped probes, repeated over the hidden size (granular output). Replacement tokens are drawn
/// uniformly from the vocabulary (Inseq draws them among tokens of the same NLTK part-of-speech tag, which needs
/// NLTK's tagger model; <see cref="PosTagMap"/> restores that with a precomputed tag → ids map). Stochastic: seeded by
/// <see cref="Seed"/>. Inputs are attributed one at a time (Inseq only accepts a batch of one). Differences from
/// Inseq 0.6, whose code fails in these cases: encoder-decoders without attribute_target probe the source tokens with
/// the target prefix fixed (Inseq re-runs the rationalizer on the target embeddings and crashes), and ids beyond the
/// tokenizer's base vocabulary (BART's added special tokens) are accepted.
/// </summary>
public sealed record Reagent : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "reagent";

    /// <summary>Default <see cref="KeepTopN"/>.</summary>
    public const int DefaultKeepTopN = 5;

    /// <summary>Default <see cref="StoppingConditionTopK"/>.</summary>
    public const int DefaultStoppingConditionTopK = 3;

    /// <summary>Default <see cref="ReplacingRatio"/>.</summary>
    public const double DefaultReplacingRatio = 0.3;

    /// <summary>Default <see cref="MaxProbeSteps"/>.</summary>
    public const int DefaultMaxProbeSteps = 3000;

    /// <summary>Default <see cref="Probes"/>.</summary>
    public const int DefaultProbes = 16;

    /// <summary><c>keep_top_n</c> (default <see cref="DefaultKeepTopN"/>; 0 uses <see cref="KeepRatio"/>).</summary>
    public int KeepTopN { get; init; } = DefaultKeepTopN;

    /// <summary><c>keep_ratio</c> (used when <see cref="KeepTopN"/> is 0).</summary>
    public double? KeepRatio { get; init; }

    /// <summary><c>invert_keep</c>: replace the top tokens instead of keeping them (default false).</summary>
    public bool InvertKeep { get; init; }

    /// <summary><c>stopping_condition_top_k</c> (default <see cref="DefaultStoppingConditionTopK"/>).</summary>
    public int StoppingConditionTopK { get; init; } = DefaultStoppingConditionTopK;

    /// <summary><c>replacing_ratio</c> (default <see cref="DefaultReplacingRatio"/>).</summary>
    public double ReplacingRatio { get; init; } = DefaultReplacingRatio;

    /// <summary><c>max_probe_steps</c> (default <see cref="DefaultMaxProbeSteps"/>).</summary>
    public int MaxProbeSteps { get; init; } = DefaultMaxProbeSteps;

    /// <summary><c>num_probes</c> (default <see cref="DefaultProbes"/>).</summary>
    public int Probes { get; init; } = DefaultProbes;

    /// <summary><c>seed</c> (native extension): seed of the torch generator (default 0).</summary>
    public long Seed { get; init; }

    /// <summary><c>pos_tag_map</c> (native extension): JSON file <c>{"TAG": [ids...]}</c> grouping the vocabulary by
    /// part of speech, to sample replacements as Inseq's POS-tag sampler does (null: uniform over the vocabulary).</summary>
    public string? PosTagMap { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (KeepTopN != DefaultKeepTopN)
            {
                args["keep_top_n"] = KeepTopN;
            }

            if (KeepRatio is double ratio)
            {
                args["keep_ratio"] = ratio;
            }

            if (InvertKeep)
            {
                args["invert_keep"] = true;
            }

            if (StoppingConditionTopK != DefaultStoppingConditionTopK)
            {
                args["stopping_condition_top_k"] = StoppingConditionTopK;
            }

            if (ReplacingRatio != DefaultReplacingRatio)
            {
                args["replacing_ratio"] = ReplacingRatio;
            }

            if (MaxProbeSteps != DefaultMaxProbeSteps)
            {
                args["max_probe_steps"] = MaxProbeSteps;
            }

            if (Probes != DefaultProbes)
            {
                args["num_probes"] = Probes;
            }

            if (Seed != 0)
            {
                args["seed"] = Seed;
            }

            if (PosTagMap is not null)
            {
                args["pos_tag_map"] = PosTagMap;
            }

            return args;
        }
    }

    internal static Reagent Read(ArgumentValues r)
    {
        var method = new Reagent
        {
            KeepTopN = r.Int("keep_top_n"),
            KeepRatio = r.NumberOrNull("keep_ratio"),
            InvertKeep = r.Bool("invert_keep"),
            StoppingConditionTopK = r.Int("stopping_condition_top_k"),
            ReplacingRatio = r.Number("replacing_ratio"),
            MaxProbeSteps = r.Int("max_probe_steps"),
            Probes = r.Int("num_probes"),
            Seed = r.LongOrNull("seed") ?? 0,
            PosTagMap = r.TextOrNull("pos_tag_map"),
        };
        if (method.KeepTopN == 0 && method.KeepRatio is not (> 0 and <= 1))
        {
            throw new InvalidRequestException("reagent: with keep_top_n=0, keep_ratio must be given within (0, 1].");
        }

        return method;
    }
}

/// <summary>Argument helpers shared by the perturbation methods.</summary>
internal static class PerturbationArgs
{
    public static int[] ParseInts(string owner, string key, string text)
    {
        string cleaned = text.Trim().Trim('(', ')', '[', ']');
        if (cleaned.Length == 0)
        {
            return [];
        }

        return cleaned.Split(',', StringSplitOptions.TrimEntries).Select(p =>
            int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
                ? v
                : throw new InvalidRequestException($"{owner}: argument '{key}' must be integers separated by commas (got '{text}').")).ToArray();
    }

    public static void Positive(string owner, string key, int value)
    {
        if (value <= 0)
        {
            throw new InvalidRequestException($"{owner}: argument '{key}' must be positive (got {value}).");
        }
    }
}
