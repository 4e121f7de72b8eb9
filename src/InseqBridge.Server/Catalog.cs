using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Errors;

namespace InseqBridge.Server;

/// <summary>The method and step function lists of <c>/v1/methods</c> and <c>/v1/step-functions</c>, read from the
/// registries (<see cref="AttributionMethodRegistry"/>, <see cref="StepFunctionRegistry"/>) at each request, so methods
/// and step functions registered at run time are listed.</summary>
internal static class Catalog
{
    public static MethodList Methods => new(
    [
        .. AttributionMethodRegistry.All.Select(d => new CatalogEntry(
            d.Id,
            [.. d.Arguments.Select(ToEntry)],
            AcceptsStepScores(d))),
    ]);

    public static StepFunctionList StepFunctions => new(
        [.. StepFunctionRegistry.All.Select(d => new CatalogEntry(d.Id, [.. d.Arguments.Select(ToEntry)]))]);

    /// <summary>False for final-step methods (attention, value zeroing); a method that cannot be built without
    /// arguments is assumed to take step scores.</summary>
    private static bool AcceptsStepScores(AttributionMethodDescriptor descriptor)
    {
        try
        {
            return !descriptor.Create(new ArgumentValues(descriptor.Id, descriptor.Arguments, null)).IsFinalStepMethod;
        }
        catch (InvalidRequestException)
        {
            return true;
        }
    }

    private static ArgumentEntry ToEntry(ArgumentSpec argument) => new(argument.Name, argument.Default switch
    {
        null => null,
        bool b => JsonValue.Create(b),
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        double d => JsonValue.Create(d),
        float f => JsonValue.Create(f),
        _ => JsonValue.Create(argument.Default.ToString()),
    });
}
