namespace InseqBridge.Attribution;

/// <summary>
/// How the fast path (<c>ExecutionMode.Fast</c>: every step's gradients from one pass over the full target) turns the
/// gradient of a step into its attribution, or that it cannot run the method.
/// </summary>
public enum FastModeRule
{
    /// <summary>The method runs in reference mode (one pass per step).</summary>
    Unsupported,

    /// <summary>No attribution, step scores only (<c>dummy</c>).</summary>
    NoAttribution,

    /// <summary>|gradient| (<c>saliency</c>).</summary>
    AbsoluteGradient,

    /// <summary>gradient x input embedding (<c>input_x_gradient</c>).</summary>
    GradientTimesInput,

    /// <summary>Quadrature-weighted gradients along the path from the baseline, times (input - baseline)
    /// (<c>integrated_gradients</c>; only for <see cref="IntegratedGradients"/> records, which carry the path).</summary>
    IntegratedGradients,
}
