using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// Contrastive inputs for the contrastive step functions (<c>contrast_prob_diff</c>, <c>pcxmi</c>,
/// <c>kl_divergence</c>, ...), used as step scores or as the attributed function: Inseq's <c>contrast_targets</c>,
/// <c>contrast_sources</c>, <c>contrast_targets_alignments</c> and <c>contrast_force_inputs</c>.
/// </summary>
public sealed record ContrastOptions
{
    /// <summary>
    /// One contrastive target text per input. Decoder-only models: the full text, prompt included (as Inseq).
    /// Null: the original targets (only the sources differ).
    /// </summary>
    public IReadOnlyList<string>? Targets { get; init; }

    /// <summary>One contrastive source text per input (encoder-decoder models only). Null: the original sources.</summary>
    public IReadOnlyList<string>? Sources { get; init; }

    /// <summary>
    /// How original target positions map to contrastive target positions. Null: right-aligned 1:1 positions,
    /// Inseq's default for missing alignments.
    /// </summary>
    public ContrastAlignments? Alignments { get; init; }

    /// <summary>
    /// <c>contrast_force_inputs</c>: when a contrastive function is the attributed function, run it on the
    /// contrastive inputs instead of only swapping the target token. Required for <c>kl_divergence</c> as
    /// attributed function.
    /// </summary>
    public bool ForceInputs { get; init; }

    /// <summary>Checks the options against the number of inputs; throws a typed error naming the problem.</summary>
    /// <param name="inputCount">Number of input texts of the request.</param>
    /// <param name="encoderDecoder">Whether the model is an encoder-decoder.</param>
    /// <exception cref="InvalidRequestException">Counts differ, sources on a decoder-only model, nothing contrastive.</exception>
    public void Validate(int inputCount, bool encoderDecoder)
    {
        if (Targets is null && Sources is null)
        {
            throw new InvalidRequestException("Contrastive attribution needs contrast targets or contrast sources.");
        }

        if (Targets is not null && Targets.Count != inputCount)
        {
            throw new InvalidRequestException($"{Targets.Count} contrast targets for {inputCount} inputs: give one per input.");
        }

        if (Sources is not null && Sources.Count != inputCount)
        {
            throw new InvalidRequestException($"{Sources.Count} contrast sources for {inputCount} inputs: give one per input.");
        }

        if (Sources is not null && !encoderDecoder)
        {
            throw new InvalidRequestException(
                "Contrast sources need an encoder-decoder model; for decoder-only models give contrast targets that include the contrastive prompt.");
        }

        if (Alignments is not null && Targets is null)
        {
            throw new InvalidRequestException("contrast_targets_alignments need contrast targets.");
        }

        if (Alignments is { IsAuto: false } a && a.PerSequence.Count != 1 && a.PerSequence.Count != inputCount)
        {
            throw new InvalidRequestException(
                $"{a.PerSequence.Count} alignment lists for {inputCount} inputs: give one list for all inputs or one per input.");
        }
    }
}

/// <summary>An alignment pair: an original target position and the contrastive target position it maps to.</summary>
/// <param name="Original">Position in the original target tokens (special tokens included).</param>
/// <param name="Contrast">Position in the contrastive target tokens (special tokens included).</param>
public readonly record struct AlignmentPair(int Original, int Contrast);

/// <summary>Inseq's <c>contrast_targets_alignments</c>: explicit index pairs, or <c>"auto"</c>.</summary>
public sealed record ContrastAlignments
{
    private ContrastAlignments(bool isAuto, IReadOnlyList<IReadOnlyList<AlignmentPair>> perSequence)
    {
        IsAuto = isAuto;
        PerSequence = perSequence;
    }

    /// <summary>
    /// Automatic alignment. Inseq aligns words with the LaBSE model (a network download); InseqBridge aligns the
    /// tokens themselves with a longest-common-subsequence match and pairs the differing stretches in order.
    /// </summary>
    public static ContrastAlignments Auto { get; } = new(true, []);

    /// <summary>True for <see cref="Auto"/>.</summary>
    public bool IsAuto { get; }

    /// <summary>Explicit pairs: one list for every input, or one list per input.</summary>
    public IReadOnlyList<IReadOnlyList<AlignmentPair>> PerSequence { get; }

    /// <summary>The same explicit pairs for every input.</summary>
    /// <param name="pairs">Original → contrast position pairs.</param>
    public static ContrastAlignments ForAll(IEnumerable<AlignmentPair> pairs) => new(false, [pairs.ToList()]);

    /// <summary>Explicit pairs per input.</summary>
    /// <param name="pairs">One list of pairs per input.</param>
    public static ContrastAlignments PerInput(IEnumerable<IEnumerable<AlignmentPair>> pairs) =>
        new(false, pairs.Select(p => (IReadOnlyList<AlignmentPair>)p.ToList()).ToList());

    /// <summary>
    /// Parses <c>auto</c> or JSON pairs as Inseq takes them: <c>[[0,1],[1,2]]</c> (for every input) or
    /// <c>[[[0,1]],[[0,0]]]</c> (per input).
    /// </summary>
    /// <param name="text">The text to parse.</param>
    /// <exception cref="InvalidRequestException">Neither <c>auto</c> nor valid pairs.</exception>
    public static ContrastAlignments Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Trim() == "auto")
        {
            return Auto;
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind != System.Text.Json.JsonValueKind.Array)
            {
                throw new InvalidRequestException($"contrast_targets_alignments must be 'auto' or a JSON list of [original, contrast] pairs (got {text}).");
            }

            bool nested = root.GetArrayLength() > 0 && root[0].GetArrayLength() > 0 && root[0][0].ValueKind == System.Text.Json.JsonValueKind.Array;
            static List<AlignmentPair> Pairs(System.Text.Json.JsonElement list) =>
                list.EnumerateArray().Select(p => p.GetArrayLength() == 2
                    ? new AlignmentPair(p[0].GetInt32(), p[1].GetInt32())
                    : throw new InvalidRequestException($"contrast_targets_alignments: a pair must have two indices (got {p.GetRawText()}).")).ToList();
            return nested ? PerInput(root.EnumerateArray().Select(Pairs)) : ForAll(Pairs(root));
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidRequestException($"contrast_targets_alignments must be 'auto' or a JSON list of [original, contrast] pairs (got {text}): {e.Message}");
        }
    }

    /// <summary>The explicit pairs for input <paramref name="index"/> (null for <see cref="Auto"/>).</summary>
    /// <param name="index">Input index.</param>
    public IReadOnlyList<AlignmentPair>? For(int index) =>
        IsAuto ? null : PerSequence.Count == 1 ? PerSequence[0] : PerSequence[index];
}
