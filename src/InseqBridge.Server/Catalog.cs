using System.Text.Json.Nodes;
using InseqBridge.Attribution;

namespace InseqBridge.Server;

/// <summary>The method and step function lists of <c>/v1/methods</c> and <c>/v1/step-functions</c>, derived from the
/// core's parsers (<see cref="AttributionMethod.DescribeArguments"/>, <see cref="StepFunction.DescribeArguments"/>).</summary>
internal static class Catalog
{
    public static MethodList Methods { get; } = new(
    [
        .. AttributionMethod.KnownIds.Select(id => new CatalogEntry(
            id,
            [.. AttributionMethod.DescribeArguments(id).Select(ToEntry)],
            !AttributionMethod.FromId(id).IsFinalStepMethod)),
    ]);

    public static StepFunctionList StepFunctions { get; } = new(
        [.. StepFunction.BuiltInIds.Select(id => new CatalogEntry(id, [.. StepFunction.DescribeArguments(id).Select(ToEntry)]))]);

    private static ArgumentEntry ToEntry(ArgumentDescription argument) => new(argument.Name, argument.Default switch
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
