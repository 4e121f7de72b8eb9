using System.Globalization;
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

    /// <summary>Ids of the methods this build knows.</summary>
    public static IReadOnlyList<string> KnownIds { get; } =
        ["saliency", "input_x_gradient", "integrated_gradients", "attention", "dummy", "occlusion", "lime", "value_zeroing", "reagent", .. GradientMethodFactory.Ids];

    /// <summary>Creates a method from its Inseq id and K=V arguments (as the CLI's --method-args).</summary>
    /// <exception cref="InvalidRequestException">Unknown id, unknown argument or bad value.</exception>
    public static AttributionMethod FromId(string id, IReadOnlyDictionary<string, string>? args = null)
    {
        args ??= new Dictionary<string, string>();
        var reader = new ArgumentReader(id, args);
        AttributionMethod method = Create(id, reader);
        reader.EnsureAllUsed();
        return method;
    }

    /// <summary>
    /// The arguments method <paramref name="id"/> reads, with their defaults (null: none, the method decides), in the
    /// order it reads them: derived from <see cref="FromId"/> itself, so the list cannot drift from what is accepted.
    /// </summary>
    /// <exception cref="InvalidRequestException">Unknown id.</exception>
    public static IReadOnlyList<ArgumentDescription> DescribeArguments(string id)
    {
        var reader = new ArgumentReader(id, new Dictionary<string, string>());
        _ = Create(id, reader);
        return reader.Described;
    }

    private static AttributionMethod Create(string id, ArgumentReader reader)
    {
        AttributionMethod method = id switch
        {
            "saliency" => new Saliency(),
            "input_x_gradient" => new InputXGradient(),
            "integrated_gradients" => new IntegratedGradients
            {
                Steps = reader.Int("n_steps", 50),
                Method = reader.Enum("method", IntegrationMethod.GaussLegendre),
                InternalBatchSize = reader.IntOrNull("internal_batch_size"),
                ReturnConvergenceDelta = reader.Bool("return_convergence_delta", false),
            },
            "attention" => new AttentionWeights(),
            "dummy" => new DummyAttribution(),
            "occlusion" => Occlusion.Read(reader),
            "lime" => Lime.Read(reader),
            "value_zeroing" => ValueZeroing.Read(reader),
            "reagent" => Reagent.Read(reader),
            _ when GradientMethodFactory.Ids.Contains(id) => GradientMethodFactory.Create(id, reader),
            _ => throw new InvalidRequestException(
                $"Unknown attribution method '{id}'. Available: {string.Join(", ", KnownIds)}."),
        };
        return method;
    }
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

    /// <summary><c>n_steps</c>: number of interpolation points (default 50).</summary>
    public int Steps { get; init; } = 50;

    /// <summary><c>method</c>: quadrature rule (default Gauss-Legendre).</summary>
    public IntegrationMethod Method { get; init; } = IntegrationMethod.GaussLegendre;

    /// <summary><c>internal_batch_size</c>: at most this many interpolated inputs per forward pass (null: all).</summary>
    public int? InternalBatchSize { get; init; }

    /// <summary><c>return_convergence_delta</c>: add the completeness error as step score <c>deltas</c>.</summary>
    public bool ReturnConvergenceDelta { get; init; }

    /// <inheritdoc />
    public override IReadOnlyDictionary<string, object?> Arguments
    {
        get
        {
            var args = new Dictionary<string, object?>();
            if (Steps != 50)
            {
                args["n_steps"] = Steps;
            }

            if (Method != IntegrationMethod.GaussLegendre)
            {
                args["method"] = IntegrationMethodNames.ToId(Method);
            }

            if (InternalBatchSize is int ibs)
            {
                args["internal_batch_size"] = ibs;
            }

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
            $"Unknown integration method '{id}'. Available: gausslegendre, riemann_right, riemann_left, riemann_middle, riemann_trapezoid."),
    };
}

/// <summary>Reads K=V arguments with errors that name the owner and the argument.</summary>
internal sealed class ArgumentReader(string owner, IReadOnlyDictionary<string, string> args)
{
    private readonly HashSet<string> _used = [];
    private readonly List<ArgumentDescription> _described = [];

    /// <summary>Every argument asked for so far, with the default given (null where none).</summary>
    public IReadOnlyList<ArgumentDescription> Described => _described;

    public int Int(string key, int fallback) => Describe(key, fallback, IntOrNull(key)) ?? fallback;

    public int? IntOrNull(string key)
    {
        Describe<object>(key, null, null);
        if (!args.TryGetValue(key, out string? v))
        {
            return null;
        }

        _used.Add(key);
        return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i)
            ? i
            : throw new InvalidRequestException($"{owner}: argument '{key}' must be an integer (got '{v}').");
    }

    public double Double(string key, double fallback) => Describe(key, fallback, DoubleOrNull(key)) ?? fallback;

    public double? DoubleOrNull(string key)
    {
        Describe<object>(key, null, null);
        if (!args.TryGetValue(key, out string? v))
        {
            return null;
        }

        _used.Add(key);
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
            ? d
            : throw new InvalidRequestException($"{owner}: argument '{key}' must be a number (got '{v}').");
    }

    public bool Bool(string key, bool fallback)
    {
        Describe<object>(key, fallback, null);
        if (!args.TryGetValue(key, out string? v))
        {
            return fallback;
        }

        _used.Add(key);
        return v.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new InvalidRequestException($"{owner}: argument '{key}' must be true or false (got '{v}')."),
        };
    }

    public string? String(string key)
    {
        Describe<object>(key, null, null);
        if (!args.TryGetValue(key, out string? v))
        {
            return null;
        }

        _used.Add(key);
        return v;
    }

    public IntegrationMethod Enum(string key, IntegrationMethod fallback) =>
        Describe(key, IntegrationMethodNames.ToId(fallback), String(key)) is string s ? IntegrationMethodNames.Parse(s) : fallback;

    /// <summary>Records <paramref name="key"/> with its default (a later call with a default wins over null); returns <paramref name="value"/>.</summary>
    private T? Describe<T>(string key, object? fallback, T? value)
    {
        int index = _described.FindIndex(d => d.Name == key);
        if (index < 0)
        {
            _described.Add(new ArgumentDescription(key, fallback));
        }
        else if (fallback is not null)
        {
            _described[index] = new ArgumentDescription(key, fallback);
        }

        return value;
    }

    public void EnsureAllUsed()
    {
        var unused = args.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unused.Count > 0)
        {
            throw new InvalidRequestException($"{owner} does not accept argument(s): {string.Join(", ", unused)}.");
        }
    }
}

/// <summary>An argument of a method or step function and its default.</summary>
/// <param name="Name">Inseq's argument name (e.g. <c>n_steps</c>).</param>
/// <param name="Default">The default (int, double, bool or string), or null when there is none or the method decides.</param>
public sealed record ArgumentDescription(string Name, object? Default);
