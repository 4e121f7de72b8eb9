namespace InseqBridge.Attribution;

/// <summary>
/// Everything the library knows about one step function, in one place: its Inseq id, documentation, declared arguments
/// (defaults and validation) and how its typed record is built. Registered in <see cref="StepFunctionRegistry"/>; the
/// native backend attaches the code that evaluates it to the same id (<c>StepFunctionEvaluator.Register</c>).
/// </summary>
public sealed record StepFunctionDescriptor
{
    /// <summary>Inseq's id (e.g. <c>probability</c>).</summary>
    public required string Id { get; init; }

    /// <summary>What the function computes (<c>inseq-bridge explain</c> prints it).</summary>
    public required string Summary { get; init; }

    /// <summary>The arguments it accepts, in the order they are documented.</summary>
    public IReadOnlyList<ArgumentSpec> Arguments { get; init; } = [];

    /// <summary>Builds the typed record from the arguments (null: a <see cref="CustomStepFunction"/> carrying the given arguments).</summary>
    public Func<ArgumentValues, StepFunction>? Create { get; init; }

    /// <summary>Whether arguments it does not declare are accepted and passed on (user functions registered without declarations).</summary>
    public bool AcceptsUndeclaredArguments { get; init; }

    /// <summary>Whether it needs forwards of its own besides the step's (contrastive inputs, Monte Carlo dropout), so the
    /// fast path, which shares one teacher-forced forward between steps, cannot evaluate it.</summary>
    public bool NeedsExtraForwards { get; init; }

    /// <summary>Builds the step function from K=V arguments, read against <see cref="Arguments"/>.</summary>
    /// <exception cref="Errors.InvalidRequestException">Unknown argument or bad value.</exception>
    public StepFunction Build(IReadOnlyDictionary<string, string>? arguments)
    {
        var values = new ArgumentValues($"Step function '{Id}'", Arguments, arguments, AcceptsUndeclaredArguments);
        if (Create is not null)
        {
            return Create(values);
        }

        values.CheckGiven();
        return new CustomStepFunction(Id, values.Given);
    }
}
