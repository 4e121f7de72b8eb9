namespace InseqBridge.Attribution;

/// <summary>The shape of the scores a method returns for each attributed token and step.</summary>
public enum AttributionOutputKind
{
    /// <summary>One score per hidden unit of the token embedding (granular; aggregated to one per token by default).</summary>
    PerHiddenUnit,

    /// <summary>One score per token (coarse, e.g. occlusion).</summary>
    PerToken,

    /// <summary>One score per layer (value zeroing).</summary>
    PerLayer,

    /// <summary>One weight per layer and head (attention).</summary>
    PerLayerAndHead,

    /// <summary>No attribution, step scores only (dummy).</summary>
    None,
}
