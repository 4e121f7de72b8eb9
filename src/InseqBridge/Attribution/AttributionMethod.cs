using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// An attribution method with its typed arguments. <see cref="Id"/> is Inseq's identifier
/// (<c>saliency</c>, <c>integrated_gradients</c>, ...), used in JSON <c>info</c>, the CLI and the Python backend.
/// </summary>
public abstract record AttributionMethod
{
    /// <summary>Inseq's id of the method.</summary>
    public abstract string Id { get; }

    /// <summary>True for methods computed once on the full sequence and sliced per step (attention, value zeroing):
    /// they accept no step scores.</summary>
    public virtual bool IsFinalStepMethod => false;

    /// <summary>The arguments that differ from the defaults, as Inseq records them in <c>info.attribution_args</c>.</summary>
    public virtual IReadOnlyDictionary<string, object?> Arguments => new Dictionary<string, object?>();

    /// <summary>The registry entry of this method (null for ids only another backend knows, e.g. Python pass-through).</summary>
    public AttributionMethodDescriptor? GetDescriptor() => AttributionMethodRegistry.TryGet(Id, out var d) ? d : null;

    /// <summary>Ids of the methods this process knows (<see cref="AttributionMethodRegistry"/>: built-in ones, then registered ones).</summary>
    public static IReadOnlyList<string> KnownIds => AttributionMethodRegistry.Ids;

    /// <summary>Creates a method from its Inseq id and K=V arguments (as the CLI's --method-args).</summary>
    /// <exception cref="InvalidRequestException">Unknown id, unknown argument or bad value.</exception>
    public static AttributionMethod FromId(string id, IReadOnlyDictionary<string, string>? args = null)
    {
        AttributionMethodDescriptor descriptor = AttributionMethodRegistry.Get(id);
        return descriptor.Create(new ArgumentValues(id, descriptor.Arguments, args));
    }

    /// <summary>
    /// The arguments method <paramref name="id"/> accepts, with their defaults (null: none, the method decides), in the
    /// order its descriptor declares them.
    /// </summary>
    /// <exception cref="InvalidRequestException">Unknown id.</exception>
    public static IReadOnlyList<ArgumentDescription> DescribeArguments(string id) =>
        [.. AttributionMethodRegistry.Get(id).Arguments.Select(a => new ArgumentDescription(a.Name, a.Default))];
}

/// <summary>Gradient of the attributed function w.r.t. input embeddings, absolute value (Captum Saliency, abs=True).</summary>
public sealed record Saliency : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "saliency";
}

/// <summary>Gradient times input embedding (Captum InputXGradient).</summary>
public sealed record InputXGradient : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "input_x_gradient";
}

/// <summary>Quadrature rule of integrated gradients (Captum's names).</summary>
public enum IntegrationMethod
{
    /// <summary><c>gausslegendre</c> (default): Gauss-Legendre nodes mapped to [0, 1].</summary>
    GaussLegendre,

    /// <summary><c>riemann_right</c>.</summary>
    RiemannRight,

    /// <summary><c>riemann_left</c>.</summary>
    RiemannLeft,

    /// <summary><c>riemann_middle</c>.</summary>
    RiemannMiddle,

    /// <summary><c>riemann_trapezoid</c>.</summary>
    RiemannTrapezoid,
}

/// <summary>Integrated gradients (Sundararajan et al. 2017) from the UNK-token baseline, multiplied by inputs.</summary>
public sealed record IntegratedGradients : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "integrated_gradients";

    /// <summary>Default <c>n_steps</c> of the integrated-gradient family (Inseq's and Captum's 50).</summary>
    public const int DefaultSteps = 50;

    /// <summary>Default quadrature rule of the integrated-gradient family (Captum's Gauss-Legendre).</summary>
    public const IntegrationMethod DefaultMethod = IntegrationMethod.GaussLegendre;

    /// <summary><c>n_steps</c>: number of interpolation points (default <see cref="DefaultSteps"/>).</summary>
    public int Steps { get; init; } = DefaultSteps;

    /// <summary><c>method</c>: quadrature rule (default <see cref="DefaultMethod"/>).</summary>
    public IntegrationMethod Method { get; init; } = DefaultMethod;

    /// <summary><c>internal_batch_size</c>: at most this many interpolated inputs per forward pass (null: all).</summary>
    public int? InternalBatchSize { get; init; }

    /// <summary><c>return_convergence_delta</c>: add the completeness error as step score <c>deltas</c>.</summary>
    public bool ReturnConvergenceDelta { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>(IntegrationArguments.Of(Steps, Method, InternalBatchSize));
            if (ReturnConvergenceDelta)
            {
                args["return_convergence_delta"] = true;
            }

            return args;
        }
    }
}

/// <summary>Attention weights of every layer and head (a final-step method: computed once, no step scores).</summary>
public sealed record AttentionWeights : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "attention";

    /// <inheritdoc />
    public override bool IsFinalStepMethod => true;
}

/// <summary>No attribution: computes step scores only.</summary>
public sealed record DummyAttribution : AttributionMethod
{
    /// <inheritdoc />
    public override string Id => "dummy";
}

/// <summary>Captum's method names for <see cref="IntegrationMethod"/>.</summary>
public static class IntegrationMethodNames
{
    /// <summary>Every Captum id, the default first.</summary>
    public static IReadOnlyList<string> Ids { get; } = ["gausslegendre", "riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid"];

    /// <summary>The Captum id of a rule.</summary>
    public static string ToId(IntegrationMethod method) => method switch
    {
        IntegrationMethod.GaussLegendre => "gausslegendre",
        IntegrationMethod.RiemannRight => "riemann_right",
        IntegrationMethod.RiemannLeft => "riemann_left",
        IntegrationMethod.RiemannMiddle => "riemann_middle",
        _ => "riemann_trapezoid",
    };

    /// <summary>Parses a Captum id.</summary>
    public static IntegrationMethod Parse(string id) => id switch
    {
        "gausslegendre" => IntegrationMethod.GaussLegendre,
        "riemann_right" => IntegrationMethod.RiemannRight,
        "riemann_left" => IntegrationMethod.RiemannLeft,
        "riemann_middle" => IntegrationMethod.RiemannMiddle,
        "riemann_trapezoid" => IntegrationMethod.RiemannTrapezoid,
        _ => throw new InvalidRequestException(
            $"Unknown integration method '{id}'. Available: {string.Join(", ", Ids)}."),
    };
}

/// <summary>An argument of a method or step function and its default.</summary>
/// <param name="Name">Inseq's argument name (e.g. <c>n_steps</c>).</param>
/// <param name="Default">The default (int, double, bool or string), or null when there is none or the method decides.</param>
public sealed record ArgumentDescription(string Name, object? Default);
