using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// The store behind <see cref="AttributionMethodRegistry"/> and <see cref="StepFunctionRegistry"/>: built-in
/// descriptors first, then user ones in registration order, keyed by id. Readers get a snapshot (the list is replaced,
/// never changed in place), writers take a lock, so it is safe from any thread.
/// </summary>
/// <typeparam name="TDescriptor">The descriptor type.</typeparam>
internal sealed class DescriptorCatalog<TDescriptor>
    where TDescriptor : class
{
    private readonly object _gate = new();
    private readonly HashSet<string> _builtIn;
    private readonly Func<TDescriptor, string> _id;
    private readonly string _kind;
    private List<TDescriptor> _descriptors;

    /// <param name="builtIn">The descriptors this library ships.</param>
    /// <param name="id">A descriptor's id.</param>
    /// <param name="kind">What a descriptor is, for messages ("attribution method", "step function").</param>
    public DescriptorCatalog(IEnumerable<TDescriptor> builtIn, Func<TDescriptor, string> id, string kind)
    {
        _id = id;
        _kind = kind;
        _descriptors = [.. builtIn];
        _builtIn = [.. _descriptors.Select(id)];
    }

    public IReadOnlyList<TDescriptor> All
    {
        get
        {
            lock (_gate)
            {
                return [.. _descriptors];
            }
        }
    }

    public IReadOnlyList<string> Ids => [.. All.Select(_id)];

    public bool IsBuiltIn(string id) => _builtIn.Contains(id);

    public bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TDescriptor? descriptor)
    {
        lock (_gate)
        {
            descriptor = _descriptors.Find(d => _id(d) == id);
            return descriptor is not null;
        }
    }

    public void Register(TDescriptor descriptor, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        string id = _id(descriptor);
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        if (IsBuiltIn(id))
        {
            throw new InvalidRequestException($"'{id}' is a built-in {_kind} id; choose another id.");
        }

        lock (_gate)
        {
            int index = _descriptors.FindIndex(d => _id(d) == id);
            if (index >= 0 && !overwrite)
            {
                throw new InvalidRequestException($"{Article(_kind)} {_kind} '{id}' is already registered; pass overwrite: true to replace it.");
            }

            var updated = new List<TDescriptor>(_descriptors);
            if (index >= 0)
            {
                updated[index] = descriptor;
            }
            else
            {
                updated.Add(descriptor);
            }

            _descriptors = updated;
        }
    }

    public bool Unregister(string id)
    {
        if (IsBuiltIn(id))
        {
            return false;
        }

        lock (_gate)
        {
            var updated = new List<TDescriptor>(_descriptors);
            bool removed = updated.RemoveAll(d => _id(d) == id) > 0;
            _descriptors = updated;
            return removed;
        }
    }

    private static string Article(string kind) => "aeiou".Contains(kind[0], StringComparison.Ordinal) ? "An" : "A";
}
