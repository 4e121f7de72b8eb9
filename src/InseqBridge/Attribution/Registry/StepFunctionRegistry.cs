using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// The step functions this process knows: Inseq's built-in ones (<see cref="BuiltInStepFunctions"/>) and those
/// registered with <see cref="Register"/> (Inseq's <c>register_step_function</c>). <see cref="StepFunction.FromId"/>,
/// the CLI's <c>list-step-functions</c> and <c>explain</c> and the HTTP API's list read it. Thread-safe.
/// </summary>
public static class StepFunctionRegistry
{
    private static readonly object Gate = new();
    private static readonly HashSet<string> BuiltIn;
    private static List<StepFunctionDescriptor> descriptors;

    static StepFunctionRegistry()
    {
        descriptors = [.. BuiltInStepFunctions.All];
        BuiltIn = [.. descriptors.Select(d => d.Id)];
    }

    /// <summary>Every registered step function, built-in ones first, in registration order.</summary>
    public static IReadOnlyList<StepFunctionDescriptor> All
    {
        get
        {
            lock (Gate)
            {
                return [.. descriptors];
            }
        }
    }

    /// <summary>The ids of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Ids => [.. All.Select(d => d.Id)];

    /// <summary>Whether <paramref name="id"/> is one of Inseq's built-in step functions.</summary>
    public static bool IsBuiltIn(string id) => BuiltIn.Contains(id);

    /// <summary>The descriptor registered under <paramref name="id"/>, if any.</summary>
    public static bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StepFunctionDescriptor? descriptor)
    {
        lock (Gate)
        {
            descriptor = descriptors.Find(d => d.Id == id);
            return descriptor is not null;
        }
    }

    /// <summary>Adds a step function; from then on <see cref="StepFunction.FromId"/>, <c>list-step-functions</c>,
    /// <c>explain</c> and the HTTP API know it. The native backend evaluates it once its code is attached with
    /// <c>StepFunctionEvaluator.Register</c> (which also calls this).</summary>
    /// <param name="descriptor">The step function.</param>
    /// <param name="overwrite">Replace a user step function registered under the same id.</param>
    /// <exception cref="InvalidRequestException">The id is a built-in one, or taken and <paramref name="overwrite"/> is false.</exception>
    public static void Register(StepFunctionDescriptor descriptor, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentException.ThrowIfNullOrWhiteSpace(descriptor.Id);
        if (IsBuiltIn(descriptor.Id))
        {
            throw new InvalidRequestException($"'{descriptor.Id}' is a built-in step function id; choose another id.");
        }

        lock (Gate)
        {
            int index = descriptors.FindIndex(d => d.Id == descriptor.Id);
            if (index >= 0 && !overwrite)
            {
                throw new InvalidRequestException($"A step function '{descriptor.Id}' is already registered; pass overwrite: true to replace it.");
            }

            var updated = new List<StepFunctionDescriptor>(descriptors);
            if (index >= 0)
            {
                updated[index] = descriptor;
            }
            else
            {
                updated.Add(descriptor);
            }

            descriptors = updated;
        }
    }

    /// <summary>Removes a user step function; built-in ones stay.</summary>
    /// <returns>Whether one was removed.</returns>
    public static bool Unregister(string id)
    {
        if (IsBuiltIn(id))
        {
            return false;
        }

        lock (Gate)
        {
            var updated = new List<StepFunctionDescriptor>(descriptors);
            bool removed = updated.RemoveAll(d => d.Id == id) > 0;
            descriptors = updated;
            return removed;
        }
    }
}
