using InseqBridge.Attribution;
using InseqBridge.Data;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// The text-level attribute options: <see cref="AttributionRequest.SkipSpecialTokens"/>,
/// <see cref="AttributionRequest.CleanSpecialChars"/> and <see cref="AttributionRequest.GenerateFromTargetPrefix"/>.
/// </summary>
public sealed partial class NativeAttributionModel
{
    /// <summary>The texts with every special-token string of the tokenizer removed (Inseq 0.7's
    /// <c>format_input_texts(..., skip_special_tokens=True)</c>: <c>str.replace(token, "")</c> per special token).</summary>
    private List<string> RemoveSpecialTokens(List<string> texts)
    {
        var specialTokens = Tokenizer.Special.AllSpecialIds
            .Select(id => Tokenizer.IdToToken(id))
            .Where(t => !string.IsNullOrEmpty(t))
            .Distinct()
            .ToList();
        return texts.Select(text => specialTokens.Aggregate(text, (t, special) => t.Replace(special!, string.Empty, StringComparison.Ordinal))).ToList();
    }

    /// <summary>
    /// The decoder ids generation starts from for <c>generate_from_target_prefix</c>, as Inseq 0.6 builds them:
    /// <c>encode(prefixes, as_targets=True)</c>, i.e. each prefix tokenized as a target with its special tokens,
    /// right-padded with the tokenizer's pad id to the longest, then the decoder start (Inseq's BOS) prepended.
    /// </summary>
    private List<IReadOnlyList<int>> DecoderPrefixes(List<string> prefixes)
    {
        var encoded = prefixes.Select(p => EncodeChecked(p, asTarget: true)).ToList();
        int width = encoded.Max(e => e.Count);
        int pad = Tokenizer.Special.Pad?.Id ?? PadId;
        return encoded
            .Select(e => (IReadOnlyList<int>)[BosId, .. e, .. Enumerable.Repeat(pad, width - e.Count)])
            .ToList();
    }

    /// <summary>With <see cref="AttributionRequest.CleanSpecialChars"/>, every token of the output shown as the
    /// tokenizer writes it as text (see <see cref="CleanToken"/>); otherwise <paramref name="output"/> unchanged.</summary>
    private FeatureAttributionOutput CleanSpecialChars(FeatureAttributionOutput output, AttributionRequest request)
    {
        if (!request.CleanSpecialChars)
        {
            return output;
        }

        IReadOnlyList<TokenWithId> Clean(IReadOnlyList<TokenWithId> tokens) =>
            tokens.Select(t => t with { Token = CleanToken(t) }).ToList();
        return output with
        {
            SequenceAttributions = output.SequenceAttributions.Select(s => s with { Source = Clean(s.Source), Target = Clean(s.Target) }).ToList(),
            StepAttributions = output.StepAttributions?.Select(step => step with
            {
                Source = step.Source?.Select(Clean).ToList(),
                Prefix = step.Prefix.Select(Clean).ToList(),
                Target = step.Target.Select(Clean).ToList(),
            }).ToList(),
        };
    }

    /// <summary>
    /// One token as text, as Inseq's <c>clean_tokens</c> does it: <c>convert_tokens_to_string([token])</c> (the
    /// word-boundary marks "▁" / "Ġ" become spaces or go, byte-level pieces become their characters), and " " when
    /// that leaves nothing of a non-empty token.
    /// </summary>
    private string CleanToken(TokenWithId token)
    {
        if (token.Id < 0 || token.Token.Length == 0)
        {
            return token.Token;
        }

        string text = Tokenizer.Decode([token.Id], skipSpecialTokens: false, cleanUpTokenizationSpaces: false);
        return text.Length > 0 ? text : " ";
    }
}
