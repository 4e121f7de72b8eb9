namespace InseqBridge.Attribution;

/// <summary>
/// Everything the library knows about one attribution method, in one place: its Inseq id, documentation, declared
/// arguments (with defaults and validation), how its typed record is built from K=V arguments, the shape of its
/// output, and whether the fast path can run it. Registered in <see cref="AttributionMethodRegistry"/>; the native
/// backend attaches the code that runs it to the same id (<c>NativeAttributionMethods</c>).
/// </summary>
public sealed record AttributionMethodDescriptor
{
    /// <summary>Inseq's id (e.g. <c>integrated_gradients</c>).</summary>
    public required string Id { get; init; }

    /// <summary>What the method computes (a few sentences; <c>inseq-bridge explain</c> prints it).</summary>
    public required string Summary { get; init; }

    /// <summary>The arguments it accepts, in the order they are documented.</summary>
    public IReadOnlyList<ArgumentSpec> Arguments { get; init; } = [];

    /// <summary>Builds the typed method record from the arguments (read with the declared defaults and checks).</summary>
    public required Func<ArgumentValues, AttributionMethod> Create { get; init; }

    /// <summary>The shape of its scores.</summary>
    public AttributionOutputKind Output { get; init; } = AttributionOutputKind.PerHiddenUnit;

    /// <summary>How the fast path computes it (<see cref="FastModeRule.Unsupported"/>: reference mode only).</summary>
    public FastModeRule FastMode { get; init; } = FastModeRule.Unsupported;

    /// <summary>Whether a given configuration of the method can use <see cref="FastMode"/> (null: every configuration).</summary>
    public Func<AttributionMethod, bool>? FastModeCondition { get; init; }

    /// <summary>The fast-path rule for <paramref name="method"/> (an instance of this descriptor's method).</summary>
    public FastModeRule FastModeFor(AttributionMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (FastMode == FastModeRule.IntegratedGradients && method is not IntegratedGradients)
        {
            return FastModeRule.Unsupported;
        }

        return FastModeCondition is null || FastModeCondition(method) ? FastMode : FastModeRule.Unsupported;
    }
}
