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

    /// <summary>Tokens per window (first entry of Captum's <c>sliding_window_shapes</c>; default 1). The window
    /// always spans the whole embedding, as Inseq requires.</summary>
    public int WindowTokens { get; init; } = 1;

    /// <summary>Captum's <c>strides</c> along the tokens (default 1).</summary>
    public int Stride { get; init; } = 1;

    /// <summary>Captum's <c>perturbations_per_eval</c>: windows evaluated per forward pass (speed only; default 1).</summary>
    public int PerturbationsPerEval { get; init; } = 1;

    /// <summary>True when <see cref="WindowTokens"/> was given explicitly (Inseq then records it as passed).</summary>
    public bool ExplicitWindow { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Stride != 1)
            {
                args["strides"] = Stride;
            }

            if (PerturbationsPerEval != 1)
            {
                args["perturbations_per_eval"] = PerturbationsPerEval;
            }

            return args;
        }
    }

    internal static Occlusion Read(ArgumentReader r)
    {
        string? window = r.String("sliding_window_shapes");
        int tokens = 1;
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
            Stride = r.Int("strides", 1),
            PerturbationsPerEval = r.Int("perturbations_per_eval", 1),
            ExplicitWindow = window is not null,
            ExpectedHiddenSize = hidden,
        };
        PerturbationArgs.Positive("occlusion", "sliding_window_shapes", method.WindowTokens);
        PerturbationArgs.Positive("occlusion", "strides", method.Stride);
        PerturbationArgs.Positive("occlusion", "perturbations_per_eval", method.PerturbationsPerEval);
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

    /// <summary><c>n_samples</c>: perturbations per step (default 50).</summary>
    public int Samples { get; init; } = 50;

    /// <summary><c>perturbations_per_eval</c>: perturbations per forward pass (speed only; default 1).</summary>
    public int PerturbationsPerEval { get; init; } = 1;

    /// <summary><c>mask_prob</c>: probability of dropping a token (default 0.3).</summary>
    public double MaskProbability { get; init; } = 0.3;

    /// <summary><c>mask_token</c>: <c>unk</c> (default) or <c>pad</c>, whose id fills dropped embeddings.</summary>
    public string MaskToken { get; init; } = "unk";

    /// <summary><c>seed</c> (native extension): seed of the torch generator (default 0, as the reference runs).</summary>
    public long Seed { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Samples != 50)
            {
                args["n_samples"] = Samples;
            }

            if (PerturbationsPerEval != 1)
            {
                args["perturbations_per_eval"] = PerturbationsPerEval;
            }

            if (MaskProbability != 0.3)
            {
                args["mask_prob"] = MaskProbability;
            }

            if (MaskToken != "unk")
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

    internal static Lime Read(ArgumentReader r)
    {
        var method = new Lime
        {
            Samples = r.Int("n_samples", 50),
            PerturbationsPerEval = r.Int("perturbations_per_eval", 1),
            MaskProbability = r.Double("mask_prob", 0.3),
            MaskToken = r.String("mask_token") ?? "unk",
            Seed = PerturbationArgs.Seed(r, "lime"),
        };
        PerturbationArgs.Positive("lime", "n_samples", method.Samples);
        PerturbationArgs.Positive("lime", "perturbations_per_eval", method.PerturbationsPerEval);
        if (method.MaskProbability is < 0 or > 1 || double.IsNaN(method.MaskProbability))
        {
            throw new InvalidRequestException($"lime: mask_prob must be within [0, 1] (got {method.MaskProbability}).");
        }

        if (method.MaskToken is not ("unk" or "pad"))
        {
            throw new InvalidRequestException($"lime: mask_token must be 'unk' or 'pad' (got '{method.MaskToken}').");
        }

        return method;
    }
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

    /// <summary><c>similarity_metric</c>: only <c>cosine</c> (Inseq 0.6's <c>euclidean</c> fails with a shape error).</summary>
    public string SimilarityMetric { get; init; } = "cosine";

    /// <summary><c>encoder_zeroed_units_indices</c> (null: all heads of every layer).</summary>
    public HeadSelection? EncoderZeroedUnits { get; init; }

    /// <summary><c>decoder_zeroed_units_indices</c> (null: all heads of every layer).</summary>
    public HeadSelection? DecoderZeroedUnits { get; init; }

    /// <summary><c>cross_zeroed_units_indices</c> (null: all heads of every layer).</summary>
    public HeadSelection? CrossZeroedUnits { get; init; }

    /// <summary><c>output_decoder_self_scores</c> (encoder-decoders; default true).</summary>
    public bool OutputDecoderSelfScores { get; init; } = true;

    /// <summary><c>output_encoder_self_scores</c> (encoder-decoders; default true).</summary>
    public bool OutputEncoderSelfScores { get; init; } = true;

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (!OutputDecoderSelfScores)
            {
                args["output_decoder_self_scores"] = false;
            }

            if (!OutputEncoderSelfScores)
            {
                args["output_encoder_self_scores"] = false;
            }

            return args;
        }
    }

    internal static ValueZeroing Read(ArgumentReader r)
    {
        string metric = r.String("similarity_metric") ?? "cosine";
        if (metric == "euclidean")
        {
            throw new InvalidRequestException(
                "value_zeroing: similarity_metric 'euclidean' is not supported (in Inseq 0.6.0 it compares every pair of positions and fails with a shape error); use 'cosine'.");
        }

        if (metric != "cosine")
        {
            throw new InvalidRequestException($"value_zeroing: unknown similarity_metric '{metric}'. Available: cosine.");
        }

        HeadSelection? Heads(string key) => r.String(key) is string s ? HeadSelection.Parse($"value_zeroing {key}", s) : null;
        return new ValueZeroing
        {
            SimilarityMetric = metric,
            EncoderZeroedUnits = Heads("encoder_zeroed_units_indices"),
            DecoderZeroedUnits = Heads("decoder_zeroed_units_indices"),
            CrossZeroedUnits = Heads("cross_zeroed_units_indices"),
            OutputDecoderSelfScores = r.Bool("output_decoder_self_scores", true),
            OutputEncoderSelfScores = r.Bool("output_encoder_self_scores", true),
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

    /// <summary><c>keep_top_n</c> (default 5; 0 uses <see cref="KeepRatio"/>).</summary>
    public int KeepTopN { get; init; } = 5;

    /// <summary><c>keep_ratio</c> (used when <see cref="KeepTopN"/> is 0).</summary>
    public double? KeepRatio { get; init; }

    /// <summary><c>invert_keep</c>: replace the top tokens instead of keeping them (default false).</summary>
    public bool InvertKeep { get; init; }

    /// <summary><c>stopping_condition_top_k</c> (default 3).</summary>
    public int StoppingConditionTopK { get; init; } = 3;

    /// <summary><c>replacing_ratio</c> (default 0.3).</summary>
    public double ReplacingRatio { get; init; } = 0.3;

    /// <summary><c>max_probe_steps</c> (default 3000).</summary>
    public int MaxProbeSteps { get; init; } = 3000;

    /// <summary><c>num_probes</c> (default 16).</summary>
    public int Probes { get; init; } = 16;

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
            if (KeepTopN != 5)
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

            if (StoppingConditionTopK != 3)
            {
                args["stopping_condition_top_k"] = StoppingConditionTopK;
            }

            if (ReplacingRatio != 0.3)
            {
                args["replacing_ratio"] = ReplacingRatio;
            }

            if (MaxProbeSteps != 3000)
            {
                args["max_probe_steps"] = MaxProbeSteps;
            }

            if (Probes != 16)
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

    internal static Reagent Read(ArgumentReader r)
    {
        var method = new Reagent
        {
            KeepTopN = r.Int("keep_top_n", 5),
            KeepRatio = r.DoubleOrNull("keep_ratio"),
            InvertKeep = r.Bool("invert_keep", false),
            StoppingConditionTopK = r.Int("stopping_condition_top_k", 3),
            ReplacingRatio = r.Double("replacing_ratio", 0.3),
            MaxProbeSteps = r.Int("max_probe_steps", 3000),
            Probes = r.Int("num_probes", 16),
            Seed = PerturbationArgs.Seed(r, "reagent"),
            PosTagMap = r.String("pos_tag_map"),
        };
        if (method.KeepTopN < 0)
        {
            throw new InvalidRequestException($"reagent: keep_top_n must be >= 0 (got {method.KeepTopN}).");
        }

        if (method.KeepTopN == 0 && method.KeepRatio is not (> 0 and <= 1))
        {
            throw new InvalidRequestException("reagent: with keep_top_n=0, keep_ratio must be given within (0, 1].");
        }

        PerturbationArgs.Positive("reagent", "stopping_condition_top_k", method.StoppingConditionTopK);
        PerturbationArgs.Positive("reagent", "max_probe_steps", method.MaxProbeSteps);
        PerturbationArgs.Positive("reagent", "num_probes", method.Probes);
        if (method.ReplacingRatio is < 0 or > 1 || double.IsNaN(method.ReplacingRatio))
        {
            throw new InvalidRequestException($"reagent: replacing_ratio must be within [0, 1] (got {method.ReplacingRatio}).");
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

    public static long Seed(ArgumentReader r, string owner)
    {
        string? s = r.String("seed");
        if (s is null)
        {
            return 0;
        }

        return long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seed) && seed >= 0
            ? seed
            : throw new InvalidRequestException($"{owner}: argument 'seed' must be a non-negative integer (got '{s}').");
    }
}
