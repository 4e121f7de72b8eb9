using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// The step functions this process knows: Inseq's built-in ones (<see cref="BuiltInStepFunctions"/>) and those
/// registered with <see cref="Register"/> (Inseq's <c>register_step_function</c>). <see cref="StepFunction.FromId"/>,
/// the CLI's <c>list-step-functions</c> and <c>explain</c> and the HTTP API's list read it. Thread-safe.
/// </summary>
public static class StepFunctionRegistry
{
    private static readonly DescriptorCatalog<StepFunctionDescriptor> Catalog = new(BuiltInStepFunctions.All, d => d.Id, "step function");

    /// <summary>Every registered step function, built-in ones first, in registration order.</summary>
    public static IReadOnlyList<StepFunctionDescriptor> All => Catalog.All;

    /// <summary>The ids of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Ids => Catalog.Ids;

    /// <summary>Whether <paramref name="id"/> is one of Inseq's built-in step functions.</summary>
    public static bool IsBuiltIn(string id) => Catalog.IsBuiltIn(id);

    /// <summary>The descriptor registered under <paramref name="id"/>, if any.</summary>
    public static bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StepFunctionDescriptor? descriptor) =>
        Catalog.TryGet(id, out descriptor);

    /// <summary>Adds a step function; from then on <see cref="StepFunction.FromId"/>, <c>list-step-functions</c>,
    /// <c>explain</c> and the HTTP API know it. The native backend evaluates it once its code is attached with
    /// <c>StepFunctionEvaluator.Register</c> (which also calls this).</summary>
    /// <param name="descriptor">The step function.</param>
    /// <param name="overwrite">Replace a user step function registered under the same id.</param>
    /// <exception cref="InvalidRequestException">The id is a built-in one, or taken and <paramref name="overwrite"/> is false.</exception>
    public static void Register(StepFunctionDescriptor descriptor, bool overwrite = false) => Catalog.Register(descriptor, overwrite);

    /// <summary>Removes a user step function; built-in ones stay.</summary>
    /// <returns>Whether one was removed.</returns>
    public static bool Unregister(string id) => Catalog.Unregister(id);
}
