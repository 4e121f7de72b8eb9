using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// The attribution methods this process knows: the built-in ones (<see cref="BuiltInAttributionMethods"/>) and those
/// registered with <see cref="Register"/>. <see cref="AttributionMethod.FromId"/>, <see cref="AttributionMethod.KnownIds"/>,
/// the CLI's <c>list-methods</c> and <c>explain</c>, the HTTP API's method list and the native backend's fast-mode
/// decision all read it. Thread-safe.
/// </summary>
public static class AttributionMethodRegistry
{
    private static readonly DescriptorCatalog<AttributionMethodDescriptor> Catalog = new(BuiltInAttributionMethods.All, d => d.Id, "attribution method");

    /// <summary>Every registered method, built-in ones first, in registration order.</summary>
    public static IReadOnlyList<AttributionMethodDescriptor> All => Catalog.All;

    /// <summary>The ids of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Ids => Catalog.Ids;

    /// <summary>Whether <paramref name="id"/> is one of the methods this library ships.</summary>
    public static bool IsBuiltIn(string id) => Catalog.IsBuiltIn(id);

    /// <summary>The descriptor registered under <paramref name="id"/>, if any.</summary>
    public static bool TryGet(string id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AttributionMethodDescriptor? descriptor) =>
        Catalog.TryGet(id, out descriptor);

    /// <summary>The descriptor registered under <paramref name="id"/>.</summary>
    /// <exception cref="InvalidRequestException">No method has that id (the message lists close ids and all ids).</exception>
    public static AttributionMethodDescriptor Get(string id) =>
        TryGet(id, out AttributionMethodDescriptor? descriptor)
            ? descriptor
            : throw new InvalidRequestException(
                $"Unknown attribution method '{id}'.{CloseIds.Hint(id, Ids)} Available: {string.Join(", ", Ids)}.");

    /// <summary>
    /// Adds a method (Inseq's <c>register_attribution_method</c> idea): from then on <see cref="AttributionMethod.FromId"/>,
    /// <c>list-methods</c>, <c>explain</c> and the HTTP API know it. To run it natively, also attach its code with
    /// <c>NativeAttributionMethods.Register</c> (InseqBridge.Native).
    /// </summary>
    /// <param name="descriptor">The method.</param>
    /// <param name="overwrite">Replace a user method registered under the same id.</param>
    /// <exception cref="InvalidRequestException">The id is a built-in one, or taken and <paramref name="overwrite"/> is false.</exception>
    public static void Register(AttributionMethodDescriptor descriptor, bool overwrite = false) => Catalog.Register(descriptor, overwrite);

    /// <summary>Removes a user method; built-in ones stay.</summary>
    /// <returns>Whether a method was removed.</returns>
    public static bool Unregister(string id) => Catalog.Unregister(id);
}
