using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// Which <see cref="AttributionRequest"/> options an Inseq version's <c>model.attribute(...)</c> takes: the Python
/// backend checks a request against the Inseq it runs before sending it, so that a missing option fails with a
/// one-line message instead of a Python traceback.
/// </summary>
public static class InseqOptionSupport
{
    /// <summary>The first Inseq version with <c>skip_special_tokens</c> and <c>clean_special_chars</c>.</summary>
    public static Version SpecialTokenOptionsSince { get; } = new(0, 7);

    /// <summary>Refuses options that <paramref name="inseqVersion"/> lacks; a null or unreadable version is not checked.</summary>
    /// <param name="request">The request.</param>
    /// <param name="inseqVersion">Inseq's <c>__version__</c> (e.g. "0.6.0"), or null when unknown.</param>
    /// <exception cref="InvalidRequestException">The request uses an option that version does not have.</exception>
    public static void Check(AttributionRequest request, string? inseqVersion)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (Parse(inseqVersion) is not Version version || version >= SpecialTokenOptionsSince)
        {
            return;
        }

        string? option = request.SkipSpecialTokens ? "skip_special_tokens" : request.CleanSpecialChars ? "clean_special_chars" : null;
        if (option is not null)
        {
            throw new InvalidRequestException(
                $"{option} needs Inseq {SpecialTokenOptionsSince.ToString(2)} or later, but the Python backend runs Inseq {inseqVersion}; use the native backend or upgrade Inseq.");
        }
    }

    /// <summary>The major.minor[.patch] part of a version string such as "0.6.0" or "0.7.0.dev0"; null when absent.</summary>
    private static Version? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var parts = text.Split('.').Take(3).Select(p => new string(p.TakeWhile(char.IsAsciiDigit).ToArray())).TakeWhile(p => p.Length > 0).ToList();
        return parts.Count >= 2 && Version.TryParse(string.Join('.', parts), out Version? v) ? v : null;
    }
}
